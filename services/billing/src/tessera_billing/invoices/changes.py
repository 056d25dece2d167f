"""What every change to an invoice does, used by invoices, payments and write-offs alike.

Kept below ``invoices.service`` and ``payments.service`` so that both can build on it
without importing each other.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_billing.invoices.models import Invoice
from tessera_billing.money import quantize
from tessera_shared.db import utcnow
from tessera_shared.events.contracts import InvoicePaid
from tessera_shared.outbox import publish

__all__ = ["announce_paid", "touch"]


def touch(invoice: Invoice) -> None:
    invoice.updated_at = utcnow()
    invoice.version += 1


async def announce_paid(session: AsyncSession, invoice: Invoice, paid_at: datetime) -> None:
    invoice.paid_at = paid_at
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
        ),
        subject=invoice.customer_id,
    )
