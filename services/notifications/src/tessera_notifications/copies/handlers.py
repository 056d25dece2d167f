"""The local copies kept from other services' facts (who owns what), and what merges and
erasures do to the service's records."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete
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


async def _keep(session: AsyncSession, model: Any, key: str, row: Mapping[str, Any]) -> None:
    """Insert or update the copy's row with the non-empty values of ``row``."""
    values = {k: v for k, v in row.items() if v is not None}
    values["updated_at"] = utcnow()
    stmt = upsert(session, model.__table__).values(**values)
    changed = {k: v for k, v in values.items() if k != key}
    await session.execute(stmt.on_conflict_do_update(index_elements=[key], set_=changed))


async def keep_copies(session: AsyncSession, event: CloudEvent) -> None:
    """What ``event`` tells about owners and assignees (a no-op for the other types)."""
    data = event.data
    kind = event.type
    if kind.startswith("deal."):
        deal_id = _uuid(data.get("deal_id"))
        if deal_id is None:
            return
        owner = data.get("owner_id")
        if kind == "deal.updated":
            owner = (data.get("changes") or {}).get("owner_id") or owner
        await _keep(
            session,
            DealCopy,
            "deal_id",
            {
                "deal_id": deal_id,
                "customer_id": _uuid(data.get("customer_id")),
                "owner_id": owner,
            },
        )
    elif kind == "invoice.issued":
        await _keep(
            session,
            InvoiceCopy,
            "invoice_id",
            {
                "invoice_id": _uuid(data["invoice_id"]),
                "customer_id": _uuid(data.get("customer_id")),
                "deal_id": _uuid(data.get("deal_id")),
                "number": data.get("number"),
            },
        )
    elif kind in ("ticket.opened", "ticket.updated"):
        changes = data.get("changes") or {}
        await _keep(
            session,
            TicketCopy,
            "ticket_id",
            {
                "ticket_id": _uuid(data["ticket_id"]),
                "customer_id": _uuid(data.get("customer_id")),
                "assignee_id": changes.get("assignee_id") or data.get("assignee_id"),
                "group_name": changes.get("group") or data.get("group"),
            },
        )
