"""Billing disputes from the service desk pause dunning of their invoice until the ticket closes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_billing.dunning.models import InvoiceDispute
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import TicketClosed, TicketOpened


async def on_ticket_opened(session: AsyncSession, event: CloudEvent, data: TicketOpened) -> None:
    if data.category != "billing_dispute" or data.invoice_id is None:
        return
    if await session.get(InvoiceDispute, data.ticket_id) is not None:
        return  # re-announced
    session.add(
        InvoiceDispute(
            ticket_id=data.ticket_id, invoice_id=data.invoice_id, customer_id=data.customer_id, opened_at=data.opened_at
        )
    )


async def on_ticket_closed(session: AsyncSession, event: CloudEvent, data: TicketClosed) -> None:
    dispute = await session.get(InvoiceDispute, data.ticket_id)
    if dispute is not None and dispute.closed_at is None:
        dispute.closed_at = data.closed_at
