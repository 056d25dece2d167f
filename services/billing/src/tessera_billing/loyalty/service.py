"""Loyalty in billing (docs/domain.md §10.5): the member level the customer service announces, and
paying part of an invoice with points.

A loyalty payment is a request (``loyalty.payment_requested``) the customer service answers:
``loyalty.points_redeemed`` records a payment with method ``loyalty_points`` on the invoice,
``loyalty.redemption_refused`` records nothing. Voiding the invoice reverses the payment and hands
the points back (``loyalty.payment_reversed``). Each answer moves a ``pending`` request once; the
consumers' inboxes dedupe deliveries.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_billing.invoices.changes import touch
from tessera_billing.invoices.models import Invoice
from tessera_billing.invoices.rules import OPEN_STATUSES
from tessera_billing.ledger import receivables
from tessera_billing.ledger.service import EntryKind, record
from tessera_billing.loyalty.models import LoyaltyPayment, MemberLevel
from tessera_billing.loyalty.rules import most_points, point_value, points_amount
from tessera_billing.money import ZERO, quantize
from tessera_billing.payments import rules as allocation
from tessera_billing.payments.models import PaymentAllocation
from tessera_billing.payments.service import record_payment
from tessera_billing.settings import BillingSettings
from tessera_shared.db import table_of, upsert, utcnow
from tessera_shared.errors import Conflict, InvalidInput, NotFound
from tessera_shared.events.contracts import (
    LoyaltyLevelChanged,
    LoyaltyPaymentRequested,
    LoyaltyPaymentReversed,
    LoyaltyPointsRedeemed,
    LoyaltyRedemptionRefused,
)
from tessera_shared.events.contracts.billing import LOYALTY_POINTS_METHOD
from tessera_shared.outbox import publish

METHOD = LOYALTY_POINTS_METHOD
PENDING, APPLIED, REFUSED, CANCELLED, REVERSED = "pending", "applied", "refused", "cancelled", "reversed"


class InvoiceNotOpen(Conflict):
    """Points pay open invoices only (409 ``invoice-not-open``)."""

    slug = "invoice-not-open"


# -- member levels -----------------------------------------------------------------------------


async def record_level(session: AsyncSession, data: LoyaltyLevelChanged) -> None:
    """Keep the level ``loyalty.level_changed`` names, unless a newer one is already kept."""
    values = {
        "customer_id": data.customer_id,
        "level": data.to_level,
        "discount_percent": data.discount_percent,
        "changed_at": data.changed_at,
    }
    table = table_of(MemberLevel)
    stmt = upsert(session, table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.customer_id],
        set_={k: stmt.excluded[k] for k in ("level", "discount_percent", "changed_at")},
        where=table.c.changed_at < stmt.excluded.changed_at,
    )
    await session.execute(stmt)


async def member_level(session: AsyncSession, customer_id: uuid.UUID) -> MemberLevel | None:
    return await session.get(MemberLevel, customer_id)


# -- paying with points ------------------------------------------------------------------------


async def pending_amount(session: AsyncSession, invoice_id: uuid.UUID) -> Decimal:
    stmt = select(col(LoyaltyPayment.amount)).where(
        col(LoyaltyPayment.invoice_id) == invoice_id, col(LoyaltyPayment.status) == PENDING
    )
    return sum((a for a in (await session.execute(stmt)).scalars()), ZERO)


async def request_payment(
    session: AsyncSession, settings: BillingSettings, invoice: Invoice, *, points: int, actor: str, on: date
) -> LoyaltyPayment:
    """Ask the customer service to redeem ``points`` for the open ``invoice`` (locked by the caller).

    The points' amount, at the currency's point value, must be worth something and fit in what is
    open less what pending requests already ask for; the customer's balance is checked by the
    customer service, which answers."""
    if invoice.status not in OPEN_STATUSES:
        raise InvoiceNotOpen(
            f"invoice is {invoice.status}; points pay open invoices only",
            current=invoice.status,
            allowed_statuses=sorted(s.value for s in OPEN_STATUSES),
        )
    value = point_value(invoice.currency, settings.loyalty_point_values, settings.loyalty_point_value)
    amount = points_amount(points, value, invoice.currency)
    if amount <= ZERO:
        raise InvalidInput("points", f"{points} points pay nothing in {invoice.currency} (one point is {value})")
    room = invoice.balance_due - await pending_amount(session, invoice.id)
    if amount > room:
        left = quantize(max(room, ZERO), invoice.currency)
        raise InvalidInput(
            "points",
            f"{points} points pay {amount} {invoice.currency}, more than the {left} open"
            f" (at most {most_points(room, value, invoice.currency)} points)",
        )
    request = LoyaltyPayment(
        customer_id=invoice.customer_id,
        invoice_id=invoice.id,
        points=points,
        point_value=value,
        amount=amount,
        currency=invoice.currency,
        status=PENDING,
        requested_by=actor,
        requested_on=on,
    )
    session.add(request)
    await session.flush()
    await publish(
        session,
        LoyaltyPaymentRequested(
            request_id=request.id,
            customer_id=invoice.customer_id,
            invoice_id=invoice.id,
            number=invoice.number or "",
            points=points,
            amount=amount,
            currency=invoice.currency,
            requested_by=actor,
            requested_at=request.created_at,
        ),
        subject=invoice.customer_id,
    )
    return request


async def request_for_invoice(
    session: AsyncSession, settings: BillingSettings, invoice_id: uuid.UUID, *, points: int, actor: str, on: date
) -> LoyaltyPayment:
    invoice = (
        await session.execute(select(Invoice).where(col(Invoice.id) == invoice_id).with_for_update())
    ).scalar_one_or_none()
    if invoice is None:
        raise NotFound("invoice", invoice_id)
    return await request_payment(session, settings, invoice, points=points, actor=actor, on=on)


async def find_request(session: AsyncSession, request_id: uuid.UUID) -> LoyaltyPayment:
    request = await session.get(LoyaltyPayment, request_id)
    if request is None:
        raise NotFound("loyalty payment", request_id)
    return request


async def _pending(session: AsyncSession, request_id: uuid.UUID) -> LoyaltyPayment | None:
    stmt = select(LoyaltyPayment).where(col(LoyaltyPayment.id) == request_id).with_for_update()
    request = (await session.execute(stmt)).scalar_one_or_none()
    return request if request is not None and request.status == PENDING else None


async def _give_back(
    session: AsyncSession,
    request: LoyaltyPayment,
    invoice: Invoice,
    reason: Literal["invoice_voided", "invoice_not_open"],
) -> None:
    await publish(
        session,
        LoyaltyPaymentReversed(
            request_id=request.id,
            customer_id=request.customer_id,
            invoice_id=invoice.id,
            number=invoice.number or "",
            points=request.points,
            amount=quantize(request.amount, request.currency),
            currency=request.currency,
            reason=reason,
            reversed_at=utcnow(),
        ),
        subject=request.customer_id,
    )


async def points_redeemed(session: AsyncSession, data: LoyaltyPointsRedeemed, on: date) -> None:
    """The points are gone: record the payment on the invoice, or, when the invoice no longer has
    that much open, cancel and give the points back."""
    request = await _pending(session, data.request_id)
    if request is None:
        return  # answered before (a re-announcement) or never asked here
    request.balance_after, request.decided_at = data.balance, utcnow()
    invoice = (
        await session.execute(select(Invoice).where(col(Invoice.id) == request.invoice_id).with_for_update())
    ).scalar_one()
    if invoice.status not in OPEN_STATUSES or invoice.balance_due < request.amount:
        request.status = CANCELLED
        await _give_back(session, request, invoice, "invoice_not_open")
        return
    payment, _ = await record_payment(
        session,
        customer_id=invoice.customer_id,
        amount=request.amount,
        currency=invoice.currency,
        received_on=on,
        method=METHOD,
        reference=f"{request.points} loyalty points",
        plan=[allocation.Allocation(invoice.id, request.amount)],
        invoices={invoice.id: invoice},
        recorded_by=request.requested_by,
    )
    request.status, request.payment_id = APPLIED, payment.id


async def redemption_refused(session: AsyncSession, data: LoyaltyRedemptionRefused) -> None:
    request = await _pending(session, data.request_id)
    if request is None:
        return
    request.status, request.balance_after, request.decided_at = REFUSED, data.balance, utcnow()


async def applied_to(session: AsyncSession, invoice_id: uuid.UUID) -> list[LoyaltyPayment]:
    stmt = (
        select(LoyaltyPayment)
        .where(col(LoyaltyPayment.invoice_id) == invoice_id, col(LoyaltyPayment.status) == APPLIED)
        .order_by(col(LoyaltyPayment.id))
        .with_for_update()
    )
    return list((await session.execute(stmt)).scalars())


async def reverse_for_void(session: AsyncSession, invoice: Invoice, applied: list[LoyaltyPayment], on: date) -> None:
    """Undo the loyalty payments on an invoice being voided: the collection is booked back (ledger
    ``collected`` +amount), the payment's allocation is cancelled by a negative one, and the points
    are handed back (``loyalty.payment_reversed``)."""
    if not applied:
        return
    await receivables.lock_for(session, [invoice])
    now = utcnow()
    for request in applied:
        reference = f"{request.points} loyalty points reversed"
        await record(
            session,
            invoice,
            EntryKind.COLLECTED,
            request.amount,
            on,
            payment_id=request.payment_id,
            reference=reference,
        )
        if request.payment_id is not None:
            session.add(
                PaymentAllocation(
                    payment_id=request.payment_id, invoice_id=invoice.id, amount=-request.amount, applied_on=on
                )
            )
        invoice.amount_paid -= request.amount
        invoice.balance_due += request.amount
        request.status, request.reversed_at = REVERSED, now
        await _give_back(session, request, invoice, "invoice_voided")
    touch(invoice)
    await session.flush()
