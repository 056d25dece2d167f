"""Recording payments and applying money (payments and customer credit) to invoices."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_billing.credit.service import announce_exposure
from tessera_billing.invoices.changes import announce_paid, touch
from tessera_billing.invoices.models import Invoice
from tessera_billing.invoices.rules import OPEN_STATUSES, InvoiceStatus, status_after_settlement
from tessera_billing.ledger import receivables
from tessera_billing.ledger.service import EntryKind, record
from tessera_billing.money import ZERO, quantize
from tessera_billing.payments import rules
from tessera_billing.payments.models import Payment, PaymentAllocation
from tessera_shared.db import utcnow
from tessera_shared.errors import Conflict
from tessera_shared.events.contracts import PaymentReceived
from tessera_shared.events.contracts.billing import Allocation as AllocationFact
from tessera_shared.http.pagination import PageParams, paginate
from tessera_shared.outbox import publish


class PaymentRefused(Conflict):
    """The payment cannot go where it was sent: nothing is open on that invoice (409 ``nothing-open``)."""

    slug = "nothing-open"


async def open_items(session: AsyncSession, customer_id: uuid.UUID, currency: str) -> list[Invoice]:
    """The customer's open invoices in ``currency``, locked in id order (no deadlock between payers)."""
    stmt = (
        select(Invoice)
        .where(
            col(Invoice.customer_id) == customer_id,
            col(Invoice.currency) == currency,
            col(Invoice.status).in_([s.value for s in OPEN_STATUSES]),
        )
        .order_by(col(Invoice.id))
        .with_for_update()
    )
    return list((await session.execute(stmt)).scalars())


def _item(invoice: Invoice) -> rules.OpenItem:
    return rules.OpenItem(invoice.id, invoice.due_date, invoice.issue_date, invoice.number or "", invoice.balance_due)


def plan_for_invoice(invoice: Invoice, amount: Decimal) -> list[rules.Allocation]:
    """A payment sent to one invoice: up to what is open, or up to what was written off (recovery)."""
    if invoice.status == InvoiceStatus.WRITTEN_OFF:
        room = invoice.amount_written_off
    elif invoice.status in OPEN_STATUSES:
        room = invoice.balance_due
    else:
        room = ZERO
    if room <= ZERO:
        raise PaymentRefused(
            f"invoice {invoice.number or invoice.id} is {invoice.status}: nothing is open on it; "
            "record the payment against the customer to keep it as credit",
            invoice_status=invoice.status,
        )
    return [rules.Allocation(invoice.id, min(amount, room))]


def plan_for_customer(
    invoices: list[Invoice], amount: Decimal, requested: list[rules.Allocation] | None
) -> tuple[list[rules.Allocation], Decimal]:
    items = [_item(i) for i in invoices]
    if requested:
        return rules.explicit(items, requested, amount)
    return rules.oldest_first(items, amount)


async def apply_to_invoice(
    session: AsyncSession, invoice: Invoice, payment: Payment, amount: Decimal, on: date
) -> bool:
    """Apply money to one invoice; True when that settled it (the caller announces invoice.paid)."""
    session.add(PaymentAllocation(payment_id=payment.id, invoice_id=invoice.id, amount=amount, applied_on=on))
    invoice.amount_paid += amount
    if invoice.status == InvoiceStatus.WRITTEN_OFF:
        # A recovery: the write-off shrinks by what came in, and that is collected.
        invoice.amount_written_off -= amount
        payment_id, reference = payment.id, payment.reference
        await record(session, invoice, EntryKind.WRITTEN_OFF, amount, on, payment_id=payment_id, reference=reference)
        await record(session, invoice, EntryKind.COLLECTED, -amount, on, payment_id=payment_id, reference=reference)
        touch(invoice)
        return False
    invoice.balance_due -= amount
    await record(session, invoice, EntryKind.COLLECTED, -amount, on, payment_id=payment.id, reference=payment.reference)
    # A move the status machine allows, by construction (test_rules proves it for every open status).
    new_status = status_after_settlement(invoice.status, invoice.balance_due)
    if new_status != invoice.status:
        invoice.status = new_status
    touch(invoice)
    return new_status == InvoiceStatus.PAID


async def record_payment(
    session: AsyncSession,
    *,
    customer_id: uuid.UUID,
    amount: Decimal,
    currency: str,
    received_on: date,
    method: str,
    reference: str | None,
    plan: list[rules.Allocation],
    invoices: dict[uuid.UUID, Invoice],
    recorded_by: str,
) -> tuple[Payment, list[rules.Allocation]]:
    allocated = sum((a.amount for a in plan), ZERO)
    payment = Payment(
        customer_id=customer_id,
        amount=amount,
        currency=currency,
        received_on=received_on,
        method=method,
        reference=reference,
        unallocated=amount - allocated,
        recorded_by=recorded_by,
    )
    session.add(payment)
    await session.flush()
    await receivables.lock_for(session, [invoices[a.invoice_id] for a in plan])
    settled = [
        invoices[a.invoice_id]
        for a in plan
        if await apply_to_invoice(session, invoices[a.invoice_id], payment, a.amount, received_on)
    ]
    await session.flush()
    await publish(
        session,
        PaymentReceived(
            payment_id=payment.id,
            customer_id=customer_id,
            amount=quantize(amount, currency),
            currency=currency,
            method=method,
            received_on=received_on,
            unallocated=quantize(payment.unallocated, currency),
            received_at=payment.created_at,
            allocations=[
                AllocationFact(
                    invoice_id=a.invoice_id, deal_id=invoices[a.invoice_id].deal_id, amount=quantize(a.amount, currency)
                )
                for a in plan
            ],
        ),
        subject=customer_id,
    )
    for invoice in settled:
        await announce_paid(session, invoice, utcnow())
    if plan:
        await announce_exposure(session, customer_id, "payment_applied")
    return payment, plan


async def credit_payments(session: AsyncSession, customer_id: uuid.UUID, currency: str) -> list[Payment]:
    """Payments with money left over, oldest first (locked: two invoices must not spend it twice)."""
    stmt = (
        select(Payment)
        .where(col(Payment.customer_id) == customer_id, col(Payment.currency) == currency)
        .order_by(col(Payment.received_on), col(Payment.id))
        .with_for_update()
    )
    # Filtered here: Money is text on SQLite, where a SQL comparison with 0 would be wrong.
    return [p for p in (await session.execute(stmt)).scalars() if p.unallocated > ZERO]


async def credit_balances(session: AsyncSession, customer_id: uuid.UUID) -> dict[str, Decimal]:
    """The customer's credit (what is left of its payments) per currency, summed here: Money is text on SQLite."""
    totals: dict[str, Decimal] = {}
    stmt = select(col(Payment.currency), col(Payment.unallocated)).where(col(Payment.customer_id) == customer_id)
    for currency, unallocated in await session.execute(stmt):
        totals[currency] = totals.get(currency, ZERO) + unallocated
    return totals


async def credit_balance(session: AsyncSession, customer_id: uuid.UUID, currency: str) -> Decimal:
    return (await credit_balances(session, customer_id)).get(currency, ZERO)


async def apply_customer_credit(session: AsyncSession, invoice: Invoice, on: date) -> Decimal:
    """Spend the customer's credit (earlier over-payments) on ``invoice``; returns what was applied."""
    if invoice.status not in OPEN_STATUSES:
        return ZERO
    applied = ZERO
    for payment in await credit_payments(session, invoice.customer_id, invoice.currency):
        if invoice.balance_due <= ZERO:
            break
        take = min(payment.unallocated, invoice.balance_due)
        payment.unallocated -= take
        applied += take
        if await apply_to_invoice(session, invoice, payment, take, on):
            await announce_paid(session, invoice, utcnow())
    await session.flush()
    return applied


async def allocations_by_payment(
    session: AsyncSession, payment_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[PaymentAllocation]]:
    """The allocations of these payments, oldest first, in one query for the whole page."""
    stmt = (
        select(PaymentAllocation)
        .where(col(PaymentAllocation.payment_id).in_(payment_ids))
        .order_by(col(PaymentAllocation.created_at), col(PaymentAllocation.id))
    )
    by_payment: dict[uuid.UUID, list[PaymentAllocation]] = {}
    for a in (await session.execute(stmt)).scalars():
        by_payment.setdefault(a.payment_id, []).append(a)
    return by_payment


async def page_of_payments(
    session: AsyncSession, page: PageParams, *, customer_id: uuid.UUID | None
) -> tuple[list[Any], str | None]:
    stmt = select(Payment)
    if customer_id is not None:
        stmt = stmt.where(col(Payment.customer_id) == customer_id)
    return await paginate(session, stmt, page, (col(Payment.id),))


async def find_payment(session: AsyncSession, payment_id: uuid.UUID) -> Payment | None:
    return await session.get(Payment, payment_id)
