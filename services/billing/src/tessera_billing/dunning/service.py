"""The overdue job: mark invoices overdue once, then announce each dunning step once.

Works in batches, one transaction each, so a run over many invoices neither holds long locks
nor loses its progress when it stops half-way (the next run carries on). Each batch is two
statements: one UPDATE ... RETURNING of up to BATCH invoices (its WHERE is the detect-once
guard, re-checked under the row lock), and one INSERT of their events into the outbox.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Exists, and_, case, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from tessera_billing.dunning.models import InvoiceDispute
from tessera_billing.dunning.rules import (
    MAY_GO_OVERDUE,
    days_overdue,
    dunning_action,
    dunning_thresholds,
    overdue_cutoff,
)
from tessera_billing.invoices.models import Invoice
from tessera_billing.invoices.rules import InvoiceStatus
from tessera_billing.money import quantize
from tessera_billing.settings import BillingSettings
from tessera_shared.db import table_of, unit_of_work, utcnow
from tessera_shared.db.retry import retry_lost_races
from tessera_shared.events.contracts import DunningStep, InvoiceOverdue
from tessera_shared.events.envelope import EventData
from tessera_shared.outbox import outbox_row, publish_many

BATCH = 1000
INVOICES = table_of(Invoice)
_I = INVOICES.c
_RETURNED = (_I.id, _I.number, _I.customer_id, _I.deal_id, _I.balance_due, _I.currency, _I.due_date, _I.dunning_step)


@dataclass
class OverdueRun:
    as_of: date
    marked_overdue: int = 0
    dunning_steps: int = 0


async def _update_batch(
    session: AsyncSession, where: Any, values: dict[str, Any], after: uuid.UUID | None
) -> list[Any]:
    """Update the first BATCH invoices after ``after`` (by id) matching ``where``; return them.

    FOR UPDATE re-checks ``where`` on the latest version of a row it had to wait for, so a row
    changed meanwhile (paid, or marked by a concurrent run) is skipped: detect-once holds.
    """
    if after is not None:
        where = and_(where, _I.id > after)  # keyset: rows already passed are not scanned again
    chosen = select(_I.id).where(where).order_by(_I.id).limit(BATCH).with_for_update()
    ids = list((await session.execute(chosen)).scalars())
    if not ids:
        return []
    # The ids as a list, not a subquery: the planner then reads them by primary key, never by a scan.
    stmt = (
        update(INVOICES)
        .where(_I.id.in_(ids))
        .values(**values, updated_at=utcnow(), version=_I.version + 1)
        .returning(*_RETURNED)
    )
    # Events in invoice id order, as one row at a time would write them.
    return sorted((await session.execute(stmt)).all(), key=lambda r: r.id)


async def _publish_all(session: AsyncSession, facts: list[tuple[EventData, uuid.UUID]]) -> None:
    """``publish`` for many events in one INSERT."""
    await publish_many(session, [outbox_row(data, subject=subject) for data, subject in facts])


def _next(rows: list[Any]) -> uuid.UUID | None:
    """Where the next batch starts, or None after the last one."""
    return rows[-1].id if len(rows) == BATCH else None


def goes_overdue_where(as_of: date, grace_days: int) -> Any:
    """``dunning.rules.goes_overdue`` as a SQL condition on the invoices table (the rule the job runs)."""
    return and_(_I.status.in_(MAY_GO_OVERDUE), _I.due_date < overdue_cutoff(as_of, grace_days))


async def mark_overdue_batch(
    session: AsyncSession, as_of: date, grace_days: int, after: uuid.UUID | None = None
) -> tuple[int, uuid.UUID | None]:
    rows = await _update_batch(
        session,
        goes_overdue_where(as_of, grace_days),
        {"status": InvoiceStatus.OVERDUE.value, "overdue_since": as_of},
        after,
    )
    now = utcnow()
    await _publish_all(
        session,
        [
            (
                InvoiceOverdue(
                    invoice_id=r.id,
                    number=r.number or "",
                    customer_id=r.customer_id,
                    deal_id=r.deal_id,
                    amount_due=quantize(r.balance_due, r.currency),
                    currency=r.currency,
                    due_date=r.due_date,
                    days_overdue=days_overdue(r.due_date, as_of),
                    detected_at=now,
                ),
                r.customer_id,
            )
            for r in rows
        ],
    )
    return len(rows), _next(rows)


def _open_dispute() -> Exists:
    return exists().where(and_(col(InvoiceDispute.invoice_id) == _I.id, col(InvoiceDispute.closed_at).is_(None)))


def reached_step(schedule: list[int], as_of: date) -> Any:
    """The highest dunning step an invoice has reached on ``as_of``, as a SQL expression on its due date."""
    thresholds = dunning_thresholds(schedule, as_of)
    return case(*((_I.due_date <= thresholds[k], k + 1) for k in reversed(range(len(schedule)))), else_=0)


async def dunning_batch(
    session: AsyncSession, as_of: date, schedule: list[int], after: uuid.UUID | None = None
) -> tuple[int, uuid.UUID | None]:
    """One batch of overdue, undisputed invoices with a step not yet announced; returns steps
    announced and where to go on."""
    step = reached_step(schedule, as_of)
    rows = await _update_batch(
        session,
        and_(_I.status == InvoiceStatus.OVERDUE.value, _I.dunning_step < step, ~_open_dispute()),
        {"dunning_step": step},
        after,
    )
    now = utcnow()
    await _publish_all(
        session,
        [
            (
                DunningStep(
                    invoice_id=r.id,
                    number=r.number or "",
                    customer_id=r.customer_id,
                    step=r.dunning_step,
                    days_overdue=days_overdue(r.due_date, as_of),
                    action=dunning_action(r.dunning_step, len(schedule)),
                    amount_due=quantize(r.balance_due, r.currency),
                    currency=r.currency,
                    occurred_at=now,
                ),
                r.customer_id,
            )
            for r in rows
        ],
    )
    return len(rows), _next(rows)


async def _in_transaction(
    sessions: async_sessionmaker[AsyncSession], batch: Callable[[AsyncSession], Awaitable[tuple[int, uuid.UUID | None]]]
) -> tuple[int, uuid.UUID | None]:
    """One batch in a transaction of its own, again if it lost a race: the batch locks its invoices in
    id order, but a consumer's transaction locks several in event order and may deadlock with it."""

    async def work() -> tuple[int, uuid.UUID | None]:
        async with unit_of_work(sessions) as session:
            return await batch(session)

    return await retry_lost_races(work, what="overdue batch")


async def run_overdue(sessions: async_sessionmaker[AsyncSession], as_of: date, settings: BillingSettings) -> OverdueRun:
    run = OverdueRun(as_of=as_of)
    after = None
    while True:
        marked, after = await _in_transaction(
            sessions,
            functools.partial(mark_overdue_batch, as_of=as_of, grace_days=settings.overdue_grace_days, after=after),
        )
        run.marked_overdue += marked
        if after is None:
            break
    while True:
        steps, after = await _in_transaction(
            sessions,
            functools.partial(dunning_batch, as_of=as_of, schedule=settings.dunning_schedule_days, after=after),
        )
        run.dunning_steps += steps
        if after is None:
            break
    return run
