"""What every change to an invoice does, used by invoices, payments and write-offs alike.

Kept below ``invoices.service`` and ``payments.service`` so that both can build on it
without importing each other.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_billing.invoices.models import Invoice
from tessera_billing.money import ZERO, quantize
from tessera_billing.payments.models import Payment, PaymentAllocation
from tessera_shared.db import utcnow
from tessera_shared.events.contracts import InvoiceChanges, InvoicePaid, InvoiceUpdated
from tessera_shared.events.contracts.billing import LOYALTY_POINTS_METHOD
from tessera_shared.outbox import publish

__all__ = ["announce_paid", "announce_updated", "announced", "touch"]


def announced(invoice: Invoice) -> dict[str, object]:
    """What invoice.updated tells of an invoice."""
    return {"status": invoice.status, "amount_paid": invoice.amount_paid, "balance_due": invoice.balance_due}


def touch(invoice: Invoice) -> None:
    invoice.updated_at = utcnow()
    invoice.version += 1


async def paid_with_points(session: AsyncSession, invoice_id: uuid.UUID) -> Decimal:
    """What loyalty-points payments hold of the invoice (a reversal's negative allocation nets out).
    Summed here: Money is text on SQLite."""
    stmt = (
        select(col(PaymentAllocation.amount))
        .join(Payment, col(Payment.id) == col(PaymentAllocation.payment_id))
        .where(col(PaymentAllocation.invoice_id) == invoice_id, col(Payment.method) == LOYALTY_POINTS_METHOD)
    )
    return max(sum((a for a in (await session.execute(stmt)).scalars()), ZERO), ZERO)


async def announce_paid(session: AsyncSession, invoice: Invoice, paid_at: datetime) -> None:
    """``invoice.paid``, naming the part paid with points: points are not money received, so the
    customer service earns no points on it (docs/domain.md §10.5)."""
    invoice.paid_at = paid_at
    await session.flush()
    await publish(
        session,
        InvoicePaid(
            invoice_id=invoice.id,
            number=invoice.number or "",
            customer_id=invoice.customer_id,
            deal_id=invoice.deal_id,
            total=quantize(invoice.total, invoice.currency),
            currency=invoice.currency,
            paid_at=paid_at,
            paid_with_points=quantize(await paid_with_points(session, invoice.id), invoice.currency),
        ),
        subject=invoice.customer_id,
    )


async def announce_updated(
    session: AsyncSession, invoice: Invoice, before: dict[str, object], reason: Literal["voided", "credit_applied"]
) -> None:
    """invoice.updated with the fields that differ from ``before`` (``announced`` taken before the
    change); nothing when none does."""
    changed = {name: value for name, value in announced(invoice).items() if value != before[name]}
    if not changed:
        return
    await publish(
        session,
        InvoiceUpdated(
            invoice_id=invoice.id,
            number=invoice.number,
            customer_id=invoice.customer_id,
            deal_id=invoice.deal_id,
            currency=invoice.currency,
            reason=reason,
            changes=InvoiceChanges.model_validate(
                {k: str(v) if k == "status" else quantize(v, invoice.currency) for k, v in changed.items()}  # type: ignore[arg-type]
            ),
            version=invoice.version,
            updated_at=invoice.updated_at,
        ),
        subject=invoice.customer_id,
    )
