"""``GET /v1/customers/reports/retention``: retention, churn and lifetime value for a period."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from tessera_customer.api import SettingsDep
from tessera_customer.reports.repository import retention_counts
from tessera_customer.reports.rules import rate, retention_rate
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.errors import InvalidInput
from tessera_shared.http.inputs import IsoAwareDatetime
from tessera_shared.http.renamed import formerly

router = APIRouter(prefix="/v1/customers/reports", tags=["reports"])


class RetentionReport(BaseModel):
    period_from: datetime
    period_to: datetime
    active_at_start: int
    active_at_end: int
    acquired: int
    churned: int
    retention_rate_percent: Decimal | None
    churn_rate_percent: Decimal | None
    average_lifetime_value: Decimal
    value_currency: str


@router.get("/retention", response_model=RetentionReport, summary="Retention and churn rate, lifetime value")
async def retention_report(
    session: SessionDep,
    settings: SettingsDep,
    _: Annotated[Principal, require_roles(Role.SALES_MANAGER, Role.FINANCE_MANAGER, Role.SERVICE)],
    since: Annotated[IsoAwareDatetime, Query(description=f"Start of the period. {formerly('since')}")],
    until: Annotated[IsoAwareDatetime, Query(description=f"End of the period. {formerly('until')}")],
) -> RetentionReport:
    if until <= since:
        raise InvalidInput("until", "must be after since", "query")
    counts = await retention_counts(session, since, until)
    monetary = counts.monetary_at_end
    average = (sum(monetary, Decimal(0)) / len(monetary)).quantize(Decimal("0.01")) if monetary else Decimal("0.00")
    return RetentionReport(
        period_from=since,
        period_to=until,
        active_at_start=counts.active_at_start,
        active_at_end=counts.active_at_end,
        acquired=counts.acquired,
        churned=counts.churned,
        retention_rate_percent=retention_rate(counts.active_at_start, counts.active_at_end, counts.acquired),
        churn_rate_percent=rate(counts.churned, counts.active_at_start),
        average_lifetime_value=average,
        value_currency=settings.value_currency,
    )
