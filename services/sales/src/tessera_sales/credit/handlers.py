"""Billing's facts kept locally: overdue invoices (the credit hold) and cash collected per deal.

Each handler is a trigger that reaches the same state however often the event arrives.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_sales.credit.models import CollectedPayment, OverdueInvoice
from tessera_sales.money import to_minor
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import InvoiceOverdue, InvoicePaid, InvoiceWrittenOff, PaymentReceived


async def on_invoice_overdue(session: AsyncSession, event: CloudEvent, data: InvoiceOverdue) -> None:
    row = await session.get(OverdueInvoice, data.invoice_id)
    if row is None:
        session.add(
            OverdueInvoice(
                invoice_id=data.invoice_id,
                customer_id=data.customer_id,
                deal_id=data.deal_id,
                number=data.number,
                amount_due=data.amount_due,
                currency=data.currency,
                due_date=data.due_date,
                days_overdue=data.days_overdue,
                since=data.detected_at,
            )
        )
    elif data.days_overdue >= row.days_overdue:  # a newer announcement of the same overdue invoice
        row.amount_due, row.days_overdue = data.amount_due, data.days_overdue
    await session.flush()


async def _settled(session: AsyncSession, invoice_id: uuid.UUID) -> None:
    await session.execute(delete(OverdueInvoice).where(col(OverdueInvoice.invoice_id) == invoice_id))


async def on_invoice_paid(session: AsyncSession, event: CloudEvent, data: InvoicePaid) -> None:
    await _settled(session, data.invoice_id)


async def on_invoice_written_off(session: AsyncSession, event: CloudEvent, data: InvoiceWrittenOff) -> None:
    await _settled(session, data.invoice_id)


async def on_payment_received(session: AsyncSession, event: CloudEvent, data: PaymentReceived) -> None:
    """Record cash per deal (campaign ROI) and shrink what is overdue (the hold lifts at zero)."""
    for allocation in data.allocations:
        if await session.get(CollectedPayment, (data.payment_id, allocation.invoice_id)) is not None:
            continue  # re-announced payment: already counted and already taken off the overdue amount
        session.add(
            CollectedPayment(
                payment_id=data.payment_id,
                invoice_id=allocation.invoice_id,
                deal_id=allocation.deal_id,
                customer_id=data.customer_id,
                amount=allocation.amount,
                amount_minor=to_minor(allocation.amount, data.currency),
                currency=data.currency,
                received_on=data.received_on,
            )
        )
        overdue = await session.get(OverdueInvoice, allocation.invoice_id)
        if overdue is not None:
            overdue.amount_due -= allocation.amount
            if overdue.amount_due <= 0:
                await session.delete(overdue)
    await session.flush()
