"""E-mail to customers: their addresses (a copy kept from the customer service's facts) and the
messages their facts call for. Dunning letters are service messages about the customer's account:
sent whatever the marketing consents say, carrying no unsubscribe link (none may stop them)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_notifications.copies.handlers import KNOWN_CUSTOMERS
from tessera_notifications.email.models import CustomerContact
from tessera_notifications.email.service import Outgoing, enqueue
from tessera_notifications.email.unsubscribe import link_for, opted_out
from tessera_notifications.settings import NotificationsSettings
from tessera_shared.db import table_of, upsert, utcnow
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import DunningStep, TicketClosed
from tessera_shared.known_customers import ERASED, UNNAMED


async def keep_addresses(session: AsyncSession, addresses: Iterable[tuple[uuid.UUID, str | None]]) -> None:
    """The customers' current addresses (None: they have none); one statement for a consumed
    batch (a customer twice in it: the last address wins)."""
    now = utcnow()
    rows = {customer: {"customer_id": customer, "email": email, "updated_at": now} for customer, email in addresses}
    if not rows:
        return
    stmt = upsert(session, table_of(CustomerContact))
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["customer_id"], set_={"email": stmt.excluded.email, "updated_at": stmt.excluded.updated_at}
        ),
        list(rows.values()),
    )


async def dunning_letter(
    session: AsyncSession, event: CloudEvent, data: DunningStep, settings: NotificationsSettings
) -> bool:
    """The letter of one dunning step to the customer's address; False when there is none (or the
    customer was erased)."""
    found = await KNOWN_CUSTOMERS.known(session, data.customer_id)
    if found.erased or (found.current is not None and found.current.erased_at is not None):
        return False
    customer_id = found.survivor_id or data.customer_id
    contact = await session.get(CustomerContact, customer_id)
    if contact is None or not contact.email:
        return False
    name = found.current.name if found.current is not None else UNNAMED
    locale = settings.customer_locale
    subjects = {
        "en": f"Invoice {data.number}: {data.amount_due} {data.currency} overdue",
        "zh": f"发票 {data.number} 逾期未付 {data.amount_due} {data.currency}",
    }
    await enqueue(
        session,
        Outgoing(
            template="dunning",
            recipient_kind="customer",
            recipient=str(customer_id),
            to_address=contact.email,
            locale=locale,
            subject=subjects[locale],
            values={
                "name": name if name not in (UNNAMED, ERASED) else "customer",
                "number": data.number,
                "amount_due": str(data.amount_due),
                "currency": data.currency,
                "days_overdue": data.days_overdue,
                "step": data.step,
                "action": data.action,
            },
            customer_id=customer_id,
            source_type=event.type,
            source_event_id=event.id,
        ),
        settings,
    )
    return True


async def survey_invitation(
    session: AsyncSession, event: CloudEvent, data: TicketClosed, settings: NotificationsSettings
) -> bool:
    """The satisfaction survey's invitation when a ticket closes: to the customer's address unless
    the customer unsubscribed from surveys; with the unsubscribe link (List-Unsubscribe too)."""
    if data.survey_url is None:
        return False
    found = await KNOWN_CUSTOMERS.known(session, data.customer_id)
    if found.erased or (found.current is not None and found.current.erased_at is not None):
        return False
    customer_id = found.survivor_id or data.customer_id
    contact = await session.get(CustomerContact, customer_id)
    if contact is None or not contact.email or await opted_out(session, customer_id, "surveys"):
        return False
    url = data.survey_url
    if url.startswith("/"):
        url = f"{settings.public_url.rstrip('/')}{url}"
    name = found.current.name if found.current is not None else UNNAMED
    unsubscribe = link_for(settings, customer_id, "surveys")
    locale = settings.customer_locale
    await enqueue(
        session,
        Outgoing(
            template="survey",
            recipient_kind="customer",
            recipient=str(customer_id),
            to_address=contact.email,
            locale=locale,
            subject={"en": "How did we do?", "zh": "请评价我们的服务"}[locale],
            values={
                "name": name if name not in (UNNAMED, ERASED) else "customer",
                "url": url,
                "unsubscribe_url": unsubscribe,
            },
            customer_id=customer_id,
            source_type=event.type,
            source_event_id=event.id,
            unsubscribe_url=unsubscribe,
        ),
        settings,
    )
    return True
