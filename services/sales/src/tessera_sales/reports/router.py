"""Pipeline reports, computed by SQL aggregates (never by loading deals) and pure rules."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from tessera_sales.money import from_minor
from tessera_sales.ownership import scope_owner
from tessera_sales.reports import rules, service
from tessera_sales.reports.schemas import (
    Forecast,
    ForecastRow,
    Funnel,
    FunnelStepOut,
    RepPerformance,
    SalesPerformance,
    StageTime,
    WonAmount,
)
from tessera_shared.auth import OwnerScope, Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.errors import InvalidInput
from tessera_shared.http.inputs import IsoDate
from tessera_shared.http.renamed import formerly

router = APIRouter(prefix="/v1/reports", tags=["reports"])

READERS = (Role.SALES_MANAGER, Role.SALES_REP, Role.FINANCE_MANAGER)
PipelineQuery = Annotated[uuid.UUID | None, Query(description="the pipeline reported on (default: the default one)")]
Month = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]


def _bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    if start and end and end < start:
        raise InvalidInput("until", "before since", "query")
    lo = datetime.combine(start, time(), UTC) if start else None
    hi = datetime.combine(end + timedelta(days=1), time(), UTC) if end else None  # 'to' is inclusive
    return lo, hi


def _owner_filter(principal: Principal, owner_id: str | None) -> OwnerScope | None:
    """The caller's scope, narrowed to ``owner_id`` when it is within it (outside it: ignored)."""
    scope = scope_owner(principal)
    if scope is None:
        return None if owner_id is None else OwnerScope.only(owner_id)
    return scope.narrowed(owner_id) or scope


def _row(x: rules.ForecastLine) -> ForecastRow:
    return ForecastRow(
        close_month=x.close_month,
        owner_id=x.owner_id,
        currency=x.currency,
        deals=x.deals,
        pipeline=x.pipeline,
        weighted=x.weighted,
    )


@router.get("/forecast", response_model=Forecast, summary="Weighted pipeline by close month and owner")
async def forecast_report(
    session: SessionDep,
    principal: Annotated[Principal, require_roles(*READERS)],
    from_month: Month = None,
    to_month: Month = None,
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    currency: Annotated[str | None, Query(pattern="^[A-Z]{3}$")] = None,
    pipeline_id: PipelineQuery = None,
) -> Forecast:
    stages = await service.pipeline(session, pipeline_id)
    lines = await service.forecast_lines(
        session,
        pipeline_id=stages.pipeline_id,
        owner=_owner_filter(principal, owner_id),
        from_month=from_month,
        to_month=to_month,
        currency=currency,
    )
    return Forecast(
        pipeline_id=stages.pipeline_id,
        pipeline_name=stages.pipeline_name,
        rows=[_row(x) for x in lines],
        totals=[_row(x) for x in rules.totals_by_month(lines)],
    )


@router.get("/funnel", response_model=Funnel, summary="Stage-to-stage conversion from the stage history")
async def funnel_report(
    session: SessionDep,
    principal: Annotated[Principal, require_roles(*READERS)],
    since: Annotated[IsoDate | None, Query(description=f"Deals created on or after. {formerly('since')}")] = None,
    until: Annotated[IsoDate | None, Query(description=f"Deals created on or before. {formerly('until')}")] = None,
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    pipeline_id: PipelineQuery = None,
) -> Funnel:
    lo, hi = _bounds(since, until)
    stages = await service.pipeline(session, pipeline_id)
    counts, lost = await service.funnel_counts(
        session, pipeline_id=stages.pipeline_id, owner=_owner_filter(principal, owner_id), lo=lo, hi=hi
    )
    steps = rules.funnel(counts, stages.funnel, stages.rank)
    return Funnel(
        pipeline_id=stages.pipeline_id,
        pipeline_name=stages.pipeline_name,
        created_from=since,
        created_to=until,
        deals=sum(counts.values()),
        lost=lost,
        steps=[
            FunnelStepOut(
                stage=s.stage,
                stage_name=stages.name(s.stage),
                reached=s.reached,
                conversion_to_next=s.conversion_to_next,
            )
            for s in steps
        ],
    )


@router.get(
    "/sales-performance",
    response_model=SalesPerformance,
    summary="Win rate, sales cycle, time per stage and per-rep performance",
)
async def sales_performance_report(
    session: SessionDep,
    principal: Annotated[Principal, require_roles(*READERS)],
    since: Annotated[IsoDate | None, Query(description=f"Closed on or after. {formerly('since')}")] = None,
    until: Annotated[IsoDate | None, Query(description=f"Closed on or before. {formerly('until')}")] = None,
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    pipeline_id: PipelineQuery = None,
) -> SalesPerformance:
    lo, hi = _bounds(since, until)
    stages = await service.pipeline(session, pipeline_id)
    performance = await service.sales_performance(
        session, pipeline_id=stages.pipeline_id, owner=_owner_filter(principal, owner_id), lo=lo, hi=hi
    )
    reps = performance.reps
    won, lost = sum(r["won"] for r in reps.values()), sum(r["lost"] for r in reps.values())
    cycle_total = sum(r["cycle"] for r in reps.values())
    return SalesPerformance(
        pipeline_id=stages.pipeline_id,
        pipeline_name=stages.pipeline_name,
        closed_from=since,
        closed_to=until,
        won=won,
        lost=lost,
        win_rate=rules.win_rate(won, lost),
        average_cycle_seconds=rules.average_seconds(cycle_total, won + lost),
        stage_times=[
            StageTime(
                stage=s,
                stage_name=stages.name(s),
                transitions=int(n),
                average_seconds=rules.average_seconds(int(t or 0), int(n)),
            )
            for s, n, t in performance.stage_times
        ],
        reps=[
            RepPerformance(
                owner_id=o,
                won=r["won"],
                lost=r["lost"],
                win_rate=rules.win_rate(r["won"], r["lost"]),
                won_amounts=[WonAmount(currency=c, amount=from_minor(a, c)) for c, a in sorted(r["amounts"].items())],
                average_cycle_seconds=rules.average_seconds(r["cycle"], r["won"] + r["lost"]),
                activities=r["activities"],
            )
            for o, r in sorted(reps.items(), key=lambda kv: kv[0] or "")
        ],
    )
