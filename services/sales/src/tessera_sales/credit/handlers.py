"""Billing's facts kept locally: overdue invoices (the credit hold), cash collected per deal, the
credit limit and exposure, and the exchange rates (the win's credit-limit check).

Each handler is a trigger that reaches the same state however often the event arrives.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_sales.credit.models import CollectedPayment, CreditLine, DealCreditCheck, ExchangeRateCopy, OverdueInvoice
from tessera_sales.money import to_minor
from tessera_shared.consumer import Batched
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import (
    CreditExposureChanged,
    ExchangeRateSet,
    InvoiceOverdue,
    InvoicePaid,
    InvoiceWrittenOff,
    PaymentReceived,
)


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


async def apply_credit_exposures(session: AsyncSession, events: list[tuple[CloudEvent, CreditExposureChanged]]) -> None:
    """Keep billing's latest limit and open receivables (an older announcement changes nothing);
    a change naming a deal means its invoice is in billing's figures now, so the win no longer
    counts on its own (docs/domain.md §10.1). A run of announcements: the newest of each customer
    (a later one of the same time wins, as one by one), the lines read in one query, the deals
    marked in one UPDATE."""
    newest: dict[uuid.UUID, CreditExposureChanged] = {}
    for _, data in events:
        seen = newest.get(data.customer_id)
        if seen is None or data.changed_at >= seen.changed_at:
            newest[data.customer_id] = data
    lines = await session.scalars(select(CreditLine).where(col(CreditLine.customer_id).in_(list(newest))))
    rows = {row.customer_id: row for row in lines}
    for customer_id, data in newest.items():
        row = rows.get(customer_id)
        balances = [{"currency": b.currency, "amount": str(b.amount)} for b in data.open_balances]
        if row is None:
            session.add(
                CreditLine(
                    customer_id=data.customer_id,
                    credit_limit=data.credit_limit,
                    currency=data.currency,
                    rating=data.rating,
                    exposure=data.exposure,
                    open_balances=balances,
                    changed_at=data.changed_at,
                )
            )
        elif data.changed_at >= row.changed_at:
            row.credit_limit, row.currency, row.rating = data.credit_limit, data.currency, data.rating
            row.exposure, row.open_balances, row.changed_at = data.exposure, balances, data.changed_at
    deals = [data.deal_id for _, data in events if data.deal_id is not None]
    if deals:
        await session.execute(
            update(DealCreditCheck).where(col(DealCreditCheck.deal_id).in_(deals)).values(invoiced=True)
        )
    await session.flush()


on_credit_exposure_changed = Batched(apply_credit_exposures)


async def on_exchange_rate_set(session: AsyncSession, event: CloudEvent, data: ExchangeRateSet) -> None:
    row = await session.get(ExchangeRateCopy, (data.from_currency, data.to_currency))
    if row is None:
        session.add(
            ExchangeRateCopy(
                from_currency=data.from_currency, to_currency=data.to_currency, rate=str(data.rate), set_at=data.set_at
            )
        )
    elif data.set_at >= row.set_at:
        row.rate, row.set_at = str(data.rate), data.set_at
    await session.flush()
