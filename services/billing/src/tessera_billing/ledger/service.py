"""Writes to the receivable ledger: every change of what a customer owes, dated."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_billing.invoices.models import Invoice
from tessera_billing.ledger import receivables
from tessera_billing.ledger.models import LedgerEntry


class EntryKind(StrEnum):
    INVOICED = "invoiced"
    COLLECTED = "collected"
    WRITTEN_OFF = "written_off"
    VOIDED = "voided"


async def record(
    session: AsyncSession,
    invoice: Invoice,
    kind: EntryKind,
    amount: Decimal,
    on: date,
    *,
    payment_id: uuid.UUID | None = None,
    reference: str | None = None,
    moves: list[receivables.Movement] | None = None,
) -> LedgerEntry:
    """``amount`` is signed: positive raises the receivable, negative lowers it. The read model
    (``receivables``) moves with it, in the same transaction: at once, or appended to ``moves``
    for the caller's ``receivables.move_many`` before the transaction ends."""
    entry = LedgerEntry(
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        currency=invoice.currency,
        kind=kind,
        amount=amount,
        entry_date=on,
        due_date=invoice.due_date,
        payment_id=payment_id,
        reference=reference,
    )
    session.add(entry)
    if moves is not None:
        moves.append((invoice.customer_id, invoice.currency, invoice.due_date, amount, on))
    else:
        await receivables.move(session, invoice.customer_id, invoice.currency, invoice.due_date, amount, on)
    return entry
