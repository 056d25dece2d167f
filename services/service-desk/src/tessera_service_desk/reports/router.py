from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from tessera_service_desk.api import instant
from tessera_service_desk.reports import repository as q
from tessera_service_desk.reports.schemas import (
    BacklogReport,
    BacklogRow,
    ComplianceReport,
    ComplianceRow,
    FcrReport,
    FcrRow,
    SatisfactionReport,
    SatisfactionRow,
)
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.errors import InvalidInput
from tessera_shared.http.inputs import IsoDatetime
from tessera_shared.http.renamed import formerly

router = APIRouter(prefix="/v1/tickets/reports", tags=["reports"])

REPORT_READERS = (Role.SUPPORT_AGENT, Role.SALES_MANAGER, Role.SERVICE)
From = Annotated[
    IsoDatetime | None, Query(alias="since", description=f"Start (inclusive); default 30 days ago. {formerly('since')}")
]
To = Annotated[
    IsoDatetime | None, Query(alias="until", description=f"End (exclusive); default now. {formerly('until')}")
]


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    start, end = instant("since", start), instant("until", end)
    end = end or utcnow()
    start = start or end - timedelta(days=30)
    if start >= end:
        raise InvalidInput("since", "must be before 'until'", "query")
    return start, end


@router.get("/backlog", response_model=BacklogReport, summary="Open tickets by priority and age")
async def backlog_report(
    session: SessionDep, _: Annotated[Principal, require_roles(*REPORT_READERS)], as_of: IsoDatetime | None = None
) -> BacklogReport:
    as_of = instant("as_of", as_of) or utcnow()
    rows = [BacklogRow(priority=p, age_bucket=b, count=n) for p, b, n in await q.backlog(session, as_of)]
    rows.sort(key=lambda r: (r.priority, r.age_bucket))
    return BacklogReport(as_of=as_of, total=sum(r.count for r in rows), rows=rows)


@router.get(
    "/sla-compliance",
    response_model=ComplianceReport,
    summary="Share of tickets solved in the period without any SLA breach",
)
async def sla_compliance_report(
    session: SessionDep, _: Annotated[Principal, require_roles(*REPORT_READERS)], start: From = None, end: To = None
) -> ComplianceReport:
    start, end = _window(start, end)
    rows = [
        ComplianceRow(priority=p, resolved=n, within_sla=ok, compliance_pct=q.pct(ok, n))
        for p, n, ok in await q.compliance(session, start, end)
    ]
    resolved, ok = sum(r.resolved for r in rows), sum(r.within_sla for r in rows)
    return ComplianceReport(
        period_from=start,
        period_to=end,
        resolved=resolved,
        within_sla=ok,
        compliance_pct=q.pct(ok, resolved),
        by_priority=sorted(rows, key=lambda r: r.priority),
    )


@router.get(
    "/satisfaction",
    response_model=SatisfactionReport,
    summary="CSAT and NPS of answered surveys by period, agent or category",
)
async def satisfaction_report(
    session: SessionDep,
    _: Annotated[Principal, require_roles(*REPORT_READERS)],
    start: From = None,
    end: To = None,
    group_by: Literal["period", "agent", "category"] = "period",
    period: Literal["day", "week", "month"] = "month",
) -> SatisfactionReport:
    start, end = _window(start, end)
    rows = []
    for key, answered, avg, happy, nps_n, promoters, detractors in await q.satisfaction(
        session, start, end, group_by, period
    ):
        rows.append(
            SatisfactionRow(
                key=str(key) if key is not None else None,
                answered=int(answered),
                csat_avg=round(float(avg), 2) if avg is not None else None,
                csat_pct=q.pct(int(happy), int(answered)),
                nps_answers=int(nps_n),
                nps=round(100.0 * (int(promoters) - int(detractors)) / int(nps_n), 2) if nps_n else None,
            )
        )
    return SatisfactionReport(period_from=start, period_to=end, group_by=group_by, rows=rows)


@router.get(
    "/first-contact-resolution",
    response_model=FcrReport,
    summary="Share of tickets solved with one public reply and never reopened",
)
async def first_contact_resolution_report(
    session: SessionDep, _: Annotated[Principal, require_roles(*REPORT_READERS)], start: From = None, end: To = None
) -> FcrReport:
    start, end = _window(start, end)
    rows = [
        FcrRow(category=c, resolved=n, first_contact=f, rate_pct=q.pct(f, n))
        for c, n, f in await q.first_contact_resolution(session, start, end)
    ]
    resolved, first = sum(r.resolved for r in rows), sum(r.first_contact for r in rows)
    return FcrReport(
        period_from=start,
        period_to=end,
        resolved=resolved,
        first_contact=first,
        rate_pct=q.pct(first, resolved),
        by_category=rows,
    )
