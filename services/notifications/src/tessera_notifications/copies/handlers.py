"""The local copies kept from other services' facts (who owns what), and what merges and
erasures do to the service's records."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_notifications.copies.models import DealCopy, InvoiceCopy, KnownCustomer, TicketCopy
from tessera_notifications.email.models import CustomerContact, DigestItem, EmailMessage
from tessera_notifications.email.unsubscribe import move_opt_outs
from tessera_notifications.inbox.models import Notification
from tessera_shared.db import upsert, utcnow
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import CustomerMerged
from tessera_shared.known_customers import ERASED, KnownCustomers, Repoint, Scrub


async def _forget_merged_address(session: AsyncSession, data: CustomerMerged) -> None:
    """The survivor's address is the one to use; the merged id's goes."""
    await session.execute(delete(CustomerContact).where(CustomerContact.customer_id == data.merged_id))  # type: ignore[arg-type]


KNOWN_CUSTOMERS = KnownCustomers(
    KnownCustomer,
    repoint=[
        Repoint(Notification),
        Repoint(DealCopy),
        Repoint(TicketCopy),
        Repoint(InvoiceCopy),
        Repoint(EmailMessage),
        Repoint(DigestItem),
    ],
    # A notification's texts may quote the customer's name or a ticket's reason; the copies keep
    # no texts (ids and user names only).
    scrubs=[
        Scrub(Notification, {"title": ERASED, "body": ERASED}),
        Scrub(CustomerContact, {"email": None}),
        Scrub(DigestItem, {"title": ERASED, "body": ERASED}),
        # Unsent messages are not sent any more; sent ones keep their times and status only.
        Scrub(
            EmailMessage,
            {
                "to_address": "",
                "subject": ERASED,
                "text_body": ERASED,
                "html_body": ERASED,
                "last_error": None,
                "unsubscribe_url": None,
                "status": "erased",
            },
        ),
    ],
    on_merged=[_forget_merged_address, move_opt_outs],
)

# Text columns that hold nothing personal about a customer, per table; every other text column of
# a table with customer_id is scrubbed above (a unit test holds the two lists against the models).
NOT_PERSONAL: dict[str, frozenset[str]] = {
    "notifications": frozenset({"user_id", "type", "link", "source_event_id"}),
    "deal_copies": frozenset({"owner_id"}),
    "ticket_copies": frozenset({"assignee_id", "group_name"}),
    "invoice_copies": frozenset({"number"}),
    # Refusals are kept after an erasure: ids and a purpose name, nothing about the person.
    "email_opt_outs": frozenset({"purpose"}),
    "digest_items": frozenset({"user_id", "type", "link", "source_event_id"}),
    "email_messages": frozenset(
        {"message_id", "template", "recipient_kind", "recipient", "locale", "source_type", "source_event_id", "status"}
    ),
    "known_customers": frozenset({"owner_id", "status", "tier"}),
}


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None


def copy_of(event: CloudEvent) -> tuple[Any, str, dict[str, Any]] | None:
    """What ``event`` tells about owners and assignees: (the copy's model, its key, the row), or
    None for the other types."""
    data = event.data
    kind = event.type
    if kind.startswith("deal."):
        deal_id = _uuid(data.get("deal_id"))
        if deal_id is None:
            return None
        owner = data.get("owner_id")
        if kind == "deal.updated":
            owner = (data.get("changes") or {}).get("owner_id") or owner
        return (
            DealCopy,
            "deal_id",
            {"deal_id": deal_id, "customer_id": _uuid(data.get("customer_id")), "owner_id": owner},
        )
    if kind == "invoice.issued":
        return (
            InvoiceCopy,
            "invoice_id",
            {
                "invoice_id": _uuid(data["invoice_id"]),
                "customer_id": _uuid(data.get("customer_id")),
                "deal_id": _uuid(data.get("deal_id")),
                "number": data.get("number"),
            },
        )
    if kind in ("ticket.opened", "ticket.updated"):
        changes = data.get("changes") or {}
        return (
            TicketCopy,
            "ticket_id",
            {
                "ticket_id": _uuid(data["ticket_id"]),
                "customer_id": _uuid(data.get("customer_id")),
                "assignee_id": changes.get("assignee_id") or data.get("assignee_id"),
                "group_name": changes.get("group") or data.get("group"),
            },
        )
    return None


class Copies:
    """What a run of events tells about owners and assignees, kept until ``write``: one row per
    record, a later event's non-empty values over an earlier one's (as one upsert after another
    would leave it), written in one statement per copy table, in key order. A stored record keeps
    the values its rows leave empty."""

    def __init__(self) -> None:
        self._pending: dict[tuple[Any, str], dict[Any, dict[str, Any]]] = {}

    def add(self, event: CloudEvent) -> None:
        found = copy_of(event)
        if found is None:
            return
        model, key, row = found
        record = self._pending.setdefault((model, key), {}).setdefault(row[key], {})
        record.update({k: v for k, v in row.items() if v is not None})

    async def write(self, session: AsyncSession) -> None:
        pending, self._pending = self._pending, {}
        now = utcnow()
        for (model, key), records in pending.items():
            table = model.__table__
            names = [c.name for c in table.columns]
            rows = [{**dict.fromkeys(names), **records[k], "updated_at": now} for k in sorted(records, key=str)]
            stmt = upsert(session, table)
            kept = {n: func.coalesce(stmt.excluded[n], table.c[n]) for n in names if n not in (key, "updated_at")}
            stmt = stmt.on_conflict_do_update(
                index_elements=[key], set_={**kept, "updated_at": stmt.excluded.updated_at}
            )
            await session.execute(stmt, rows)


async def keep_copies(session: AsyncSession, event: CloudEvent) -> None:
    """What ``event`` tells about owners and assignees (a no-op for the other types)."""
    copies = Copies()
    copies.add(event)
    await copies.write(session)
