from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class BacklogRow(BaseModel):
    priority: str
    age_bucket: str
    count: int


class BacklogReport(BaseModel):
    as_of: datetime
    total: int
    rows: list[BacklogRow]


class ComplianceRow(BaseModel):
    priority: str
    resolved: int
    within_sla: int
    compliance_pct: float | None


class ComplianceReport(BaseModel):
    period_from: datetime
    period_to: datetime
    resolved: int
    within_sla: int
    compliance_pct: float | None
    by_priority: list[ComplianceRow]


class SatisfactionRow(BaseModel):
    key: str | None
    answered: int
    csat_avg: float | None
    # Share of 4 and 5 answers, the usual CSAT score.
    csat_pct: float | None
    nps_answers: int
    nps: float | None


class SatisfactionReport(BaseModel):
    period_from: datetime
    period_to: datetime
    group_by: str
    rows: list[SatisfactionRow]


class FcrRow(BaseModel):
    category: str
    resolved: int
    first_contact: int
    rate_pct: float | None


class FcrReport(BaseModel):
    period_from: datetime
    period_to: datetime
    resolved: int
    first_contact: int
    rate_pct: float | None
    by_category: list[FcrRow]
