"""Report queries: SQL aggregates over deals, their stage history and activities (never loading deals)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlmodel import col

from tessera_sales.activities.models import Activity
from tessera_sales.deals.models import Deal, DealStageChange
from tessera_sales.pipelines.rules import DEFAULT_PIPELINE_ID, Stages
from tessera_sales.pipelines.service import stages_of
from tessera_sales.reports import rules
from tessera_shared.auth import OwnerScope
from tessera_shared.errors import InvalidInput

_Columns = TypeVarTuple("_Columns")


async def pipeline(session: AsyncSession, pipeline_id: uuid.UUID | None) -> Stages:
    """The pipeline a report is about (the default without one); an unknown one is a 422 naming the parameter."""
    stages = await stages_of(session, pipeline_id or DEFAULT_PIPELINE_ID)
    if stages is None:
        raise InvalidInput("pipeline_id", f"no pipeline {pipeline_id}", "query")
    return stages


async def forecast_lines(
    session: AsyncSession,
    *,
    pipeline_id: uuid.UUID,
    owner: OwnerScope | None,
    from_month: str | None,
    to_month: str | None,
    currency: str | None,
) -> list[rules.ForecastLine]:
    """The pipeline's open deals by close month, owner and currency."""
    stmt = (
        select(
            col(Deal.close_month),
            col(Deal.owner_id),
            col(Deal.currency),
            func.count(),
            func.sum(col(Deal.amount_minor)),
            func.sum(col(Deal.amount_minor) * col(Deal.probability)),
        )
        .where(col(Deal.pipeline_id) == pipeline_id, col(Deal.stage_kind) == "open")
        .group_by(col(Deal.close_month), col(Deal.owner_id), col(Deal.currency))
        .order_by(col(Deal.close_month), col(Deal.owner_id), col(Deal.currency))
    )
    if owner is not None:
        stmt = stmt.where(owner.clause(col(Deal.owner_id)))
    if from_month:
        stmt = stmt.where(col(Deal.close_month) >= from_month)
    if to_month:
        stmt = stmt.where(col(Deal.close_month) <= to_month)
    if currency:
        stmt = stmt.where(col(Deal.currency) == currency)
    return [rules.forecast_line(m, o, c, int(n), int(a), int(w)) for m, o, c, n, a, w in await session.execute(stmt)]


async def funnel_counts(
    session: AsyncSession, *, pipeline_id: uuid.UUID, owner: OwnerScope | None, lo: datetime | None, hi: datetime | None
) -> tuple[dict[int, int], int]:
    """The pipeline's deals created in [lo, hi) by the furthest stage rank they reached, and how many
    of them were lost."""
    furthest = (
        select(col(Deal.furthest_rank), func.count())
        .where(col(Deal.pipeline_id) == pipeline_id)
        .group_by(col(Deal.furthest_rank))
    )
    lost = (
        select(func.count())
        .select_from(Deal)
        .where(col(Deal.pipeline_id) == pipeline_id, col(Deal.stage_kind) == "lost")
    )
    if owner is not None:
        furthest, lost = furthest.where(owner.clause(col(Deal.owner_id))), lost.where(owner.clause(col(Deal.owner_id)))
    if lo:
        furthest, lost = furthest.where(col(Deal.created_at) >= lo), lost.where(col(Deal.created_at) >= lo)
    if hi:
        furthest, lost = furthest.where(col(Deal.created_at) < hi), lost.where(col(Deal.created_at) < hi)
    counts = {int(r): int(n) for r, n in await session.execute(furthest) if r}
    return counts, int((await session.execute(lost)).scalar_one())


@dataclass(frozen=True)
class Performance:
    # Per owner: won and lost counts, won amounts in minor units by currency, summed cycle seconds, activities.
    reps: dict[str | None, dict[str, Any]]
    # (stage, transitions out of it, summed seconds spent in it)
    stage_times: list[tuple[str, int, int | None]]


async def sales_performance(
    session: AsyncSession, *, pipeline_id: uuid.UUID, owner: OwnerScope | None, lo: datetime | None, hi: datetime | None
) -> Performance:
    """The pipeline's deals closed and stages left, and activities, in [lo, hi), per owner (or for ``owner`` only)."""

    def window(stmt: Select[*_Columns], column: Mapped[datetime | None]) -> Select[*_Columns]:
        if lo:
            stmt = stmt.where(column >= lo)
        if hi:
            stmt = stmt.where(column < hi)
        return stmt

    closed = window(
        select(
            col(Deal.owner_id),
            col(Deal.stage_kind),
            col(Deal.currency),
            func.count(),
            func.sum(col(Deal.amount_minor)),
            func.sum(col(Deal.cycle_seconds)),
        )
        .where(col(Deal.pipeline_id) == pipeline_id, col(Deal.stage_kind).in_(("won", "lost")))
        .group_by(col(Deal.owner_id), col(Deal.stage_kind), col(Deal.currency)),
        col(Deal.closed_at),
    )
    acts = window(
        select(col(Activity.owner_id), func.count()).group_by(col(Activity.owner_id)), col(Activity.occurred_at)
    )
    stage_times = window(
        select(col(DealStageChange.to_stage), func.count(), func.sum(col(DealStageChange.duration_seconds)))
        .where(col(DealStageChange.left_at).is_not(None), col(DealStageChange.pipeline_id) == pipeline_id)
        .group_by(col(DealStageChange.to_stage)),
        col(DealStageChange.left_at),
    )
    if owner is not None:
        closed, acts = closed.where(owner.clause(col(Deal.owner_id))), acts.where(owner.clause(col(Activity.owner_id)))
        stage_times = stage_times.join(Deal, col(Deal.id) == col(DealStageChange.deal_id)).where(
            owner.clause(col(Deal.owner_id))
        )
    reps: dict[str | None, dict[str, Any]] = defaultdict(
        lambda: {"won": 0, "lost": 0, "amounts": {}, "cycle": 0, "activities": 0}
    )
    for o, stage, cur, n, amount, cycle in await session.execute(closed):
        rep = reps[o]
        rep[stage] += int(n)
        rep["cycle"] += int(cycle or 0)
        if stage == "won":
            rep["amounts"][cur] = rep["amounts"].get(cur, 0) + int(amount)
    for o, n in await session.execute(acts):
        reps[o]["activities"] = int(n)
    return Performance(reps=reps, stage_times=[(s, n, t) for s, n, t in await session.execute(stage_times)])
