"""Two-person write-offs: a clerk requests, a different finance manager decides."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_billing.credit.service import announce_exposure
from tessera_billing.invoices.changes import touch
from tessera_billing.invoices.models import Invoice
from tessera_billing.invoices.rules import OPEN_STATUSES, InvoiceStatus, check_transition
from tessera_billing.ledger.service import EntryKind, record
from tessera_billing.money import quantize
from tessera_billing.writeoffs.models import WriteOff
from tessera_billing.writeoffs.rules import WriteOffStatus, check_decision
from tessera_shared.db import utcnow
from tessera_shared.errors import Conflict
from tessera_shared.events.contracts import InvoiceWrittenOff
from tessera_shared.events.contracts.billing import WriteOffRequested
from tessera_shared.http.pagination import PageParams, paginate
from tessera_shared.outbox import publish


class WriteOffConflict(Conflict):
    """The invoice cannot be written off now: not open, or a request already waits (409 ``write-off-conflict``)."""

    slug = "write-off-conflict"


def _require_open(invoice: Invoice) -> None:
    if invoice.status not in OPEN_STATUSES:
        raise WriteOffConflict(
            f"invoice is {invoice.status}; only open invoices can be written off",
            invoice_status=invoice.status,
            allowed_statuses=sorted(s.value for s in OPEN_STATUSES),
        )


async def request_write_off(session: AsyncSession, invoice: Invoice, reason: str, requested_by: str) -> WriteOff:
    _require_open(invoice)
    pending = await session.scalar(
        select(col(WriteOff.id)).where(
            col(WriteOff.invoice_id) == invoice.id, col(WriteOff.status) == WriteOffStatus.REQUESTED
        )
    )
    if pending is not None:
        raise WriteOffConflict(
            "a write-off of this invoice is already waiting for a decision", pending_write_off_id=str(pending)
        )
    write_off = WriteOff(
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        amount=invoice.balance_due,
        currency=invoice.currency,
        reason=reason,
        requested_by=requested_by,
    )
    session.add(write_off)
    await session.flush()
    # Announced so that the finance managers hear of it (the notifications service's default rule).
    await publish(
        session,
        WriteOffRequested(
            write_off_id=write_off.id,
            invoice_id=invoice.id,
            number=invoice.number or "",
            customer_id=invoice.customer_id,
            deal_id=invoice.deal_id,
            amount=quantize(write_off.amount, invoice.currency),
            currency=invoice.currency,
            requested_by=requested_by,
            requested_at=write_off.requested_at,
        ),
        subject=invoice.customer_id,
    )
    return write_off


def _decide(write_off: WriteOff, status: WriteOffStatus, decider: str, note: str | None) -> None:
    write_off.status = status
    write_off.decided_by = decider
    write_off.decision_note = note
    write_off.decided_at = utcnow()
    write_off.version += 1


async def approve_write_off(
    session: AsyncSession, write_off: WriteOff, invoice: Invoice, approver: str, note: str | None, on: date
) -> None:
    """Write off what is open now (payments since the request lower it); the invoice stays on record."""
    check_decision(write_off.status, write_off.requested_by, approver, WriteOffStatus.APPROVED)
    _require_open(invoice)
    check_transition(invoice.status, InvoiceStatus.WRITTEN_OFF)
    amount = invoice.balance_due
    write_off.amount = amount
    _decide(write_off, WriteOffStatus.APPROVED, approver, note)
    invoice.amount_written_off += amount
    invoice.balance_due -= amount
    invoice.status = InvoiceStatus.WRITTEN_OFF
    touch(invoice)
    await record(session, invoice, EntryKind.WRITTEN_OFF, -amount, on, reference=str(write_off.id))
    await session.flush()
    await publish(
        session,
        InvoiceWrittenOff(
            invoice_id=invoice.id,
            number=invoice.number or "",
            customer_id=invoice.customer_id,
            amount=quantize(amount, invoice.currency),
            currency=invoice.currency,
            requested_by=write_off.requested_by,
            approved_by=approver,
            written_off_at=write_off.decided_at,
        ),
        subject=invoice.customer_id,
    )
    await announce_exposure(session, invoice.customer_id, "invoice_written_off", deal_id=invoice.deal_id)


async def reject_write_off(session: AsyncSession, write_off: WriteOff, decider: str, note: str | None) -> None:
    check_decision(write_off.status, write_off.requested_by, decider, WriteOffStatus.REJECTED)
    _decide(write_off, WriteOffStatus.REJECTED, decider, note)
    await session.flush()


async def page_of_write_offs(
    session: AsyncSession, page: PageParams, *, status: WriteOffStatus | None, invoice_id: uuid.UUID | None
) -> tuple[list[Any], str | None]:
    """One page of write-off requests in id order, optionally by status and/or invoice."""
    stmt = select(WriteOff)
    if status is not None:
        stmt = stmt.where(col(WriteOff.status) == status.value)
    if invoice_id is not None:
        stmt = stmt.where(col(WriteOff.invoice_id) == invoice_id)
    return await paginate(session, stmt, page, (col(WriteOff.id),))


async def find_write_off(
    session: AsyncSession, write_off_id: uuid.UUID, *, for_update: bool = False
) -> WriteOff | None:
    stmt = select(WriteOff).where(col(WriteOff.id) == write_off_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()
