"""The overdue job: mark invoices overdue once, then announce each dunning step once.

Works in batches, one transaction each, so a run over many invoices neither holds long locks
nor loses its progress when it stops half-way (the next run carries on).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_billing.collections.models import InvoiceDispute
from tessera_billing.collections.rules import days_overdue, dunning_action, dunning_step_due, overdue_cutoff
from tessera_billing.invoices.models import Invoice
from tessera_billing.invoices.rules import InvoiceStatus, check_transition
from tessera_billing.invoices.service import touch
from tessera_billing.money import quantize
from tessera_billing.settings import BillingSettings
from tessera_shared.db import unit_of_work, utcnow
from tessera_shared.events.contracts import DunningStep, InvoiceOverdue
from tessera_shared.outbox import publish

BATCH = 500


@dataclass
class OverdueRun:
    as_of: date
    marked_overdue: int = 0
    dunning_steps: int = 0


async def mark_overdue_batch(session: AsyncSession, as_of: date, grace_days: int) -> int:
    cutoff = overdue_cutoff(as_of, grace_days)
    stmt = (
        select(Invoice)
        .where(Invoice.status.in_([InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID]), Invoice.due_date < cutoff)
        .order_by(Invoice.id).limit(BATCH).with_for_update()
    )
    rows = list((await session.execute(stmt)).scalars())
    now = utcnow()
    for invoice in rows:
        check_transition(invoice.status, InvoiceStatus.OVERDUE)
        invoice.status = InvoiceStatus.OVERDUE
        invoice.overdue_since = as_of
        touch(invoice)
        await publish(session, InvoiceOverdue(
            invoice_id=invoice.id, number=invoice.number or "", customer_id=invoice.customer_id,
            deal_id=invoice.deal_id, amount_due=quantize(invoice.balance_due, invoice.currency),
            currency=invoice.currency, due_date=invoice.due_date,
            days_overdue=days_overdue(invoice.due_date, as_of), detected_at=now,
        ), subject=invoice.customer_id)
    return len(rows)


def _open_dispute():  # noqa: ANN202 - a SQL condition
    return exists().where(and_(InvoiceDispute.invoice_id == Invoice.id, InvoiceDispute.closed_at.is_(None)))


async def dunning_batch(
    session: AsyncSession, as_of: date, schedule: list[int], after: object | None
) -> tuple[int, object | None]:
    """One batch of overdue, undisputed invoices; returns steps announced and where to go on."""
    stmt = (
        select(Invoice)
        .where(Invoice.status == InvoiceStatus.OVERDUE, Invoice.dunning_step < len(schedule),
               Invoice.due_date <= as_of - timedelta(days=schedule[0]), ~_open_dispute())
        .order_by(Invoice.id).limit(BATCH).with_for_update()
    )
    if after is not None:
        stmt = stmt.where(Invoice.id > after)
    rows = list((await session.execute(stmt)).scalars())
    now = utcnow()
    steps = 0
    for invoice in rows:
        days = days_overdue(invoice.due_date, as_of)
        step = dunning_step_due(schedule, days, invoice.dunning_step)
        if step is None:
            continue
        invoice.dunning_step = step
        touch(invoice)
        steps += 1
        await publish(session, DunningStep(
            invoice_id=invoice.id, number=invoice.number or "", customer_id=invoice.customer_id, step=step,
            days_overdue=days, action=dunning_action(step, len(schedule)),
            amount_due=quantize(invoice.balance_due, invoice.currency), currency=invoice.currency,
            occurred_at=now,
        ), subject=invoice.customer_id)
    return steps, (rows[-1].id if len(rows) == BATCH else None)


async def run_overdue(sessions: async_sessionmaker[AsyncSession], as_of: date, settings: BillingSettings) -> OverdueRun:
    run = OverdueRun(as_of=as_of)
    while True:
        async with unit_of_work(sessions) as session:
            marked = await mark_overdue_batch(session, as_of, settings.overdue_grace_days)
        run.marked_overdue += marked
        if marked < BATCH:
            break
    after = None
    while True:
        async with unit_of_work(sessions) as session:
            steps, after = await dunning_batch(session, as_of, settings.dunning_schedule_days, after)
        run.dunning_steps += steps
        if after is None:
            break
    return run
