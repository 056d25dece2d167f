"""``GET /v1/customers/reports/retention``: retention, churn and lifetime value for a period."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, distinct, exists, func, select
from sqlalchemy.orm import aliased
from sqlmodel import col

from tessera_customer.common import SettingsDep
from tessera_customer.customers.models import Customer
from tessera_customer.lifecycle.models import StatusChange
from tessera_customer.reports.rules import ACTIVE, rate, retention_rate
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.errors import Problem
from tessera_shared.http.inputs import IsoAwareDatetime

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


def _active_at(moment: datetime) -> Select[uuid.UUID]:
    """Customers whose latest status change up to ``moment`` left them active."""
    later = aliased(StatusChange)
    newer = exists().where(
        and_(
            col(later.customer_id) == col(StatusChange.customer_id),
            col(later.changed_at) <= moment,
            col(later.changed_at) > col(StatusChange.changed_at),
        )
    )
    return select(col(StatusChange.customer_id)).where(
        col(StatusChange.changed_at) <= moment, col(StatusChange.to_status).in_(ACTIVE), ~newer
    )


@router.get("/retention", response_model=RetentionReport, summary="Retention and churn rate, lifetime value")
async def retention_report(
    session: SessionDep,
    settings: SettingsDep,
    _: Annotated[Principal, require_roles(Role.SALES_MANAGER, Role.FINANCE_MANAGER, Role.SERVICE)],
    from_: Annotated[IsoAwareDatetime, Query(alias="from")],
    to: IsoAwareDatetime,
) -> RetentionReport:
    if to <= from_:
        raise Problem(
            422,
            "`to` must be after `from`",
            slug="validation-error",
            errors=[{"field": "to", "location": "query", "message": "must be after from"}],
        )
    at_start = _active_at(from_).subquery()
    at_end = _active_at(to).subquery()
    start_n = await session.scalar(select(func.count()).select_from(at_start))
    end_n = await session.scalar(select(func.count()).select_from(at_end))
    acquired = await session.scalar(
        select(func.count(distinct(col(StatusChange.customer_id)))).where(
            col(StatusChange.to_status) == "first_time",
            col(StatusChange.changed_at) >= from_,
            col(StatusChange.changed_at) < to,
        )
    )
    churned = await session.scalar(
        select(func.count(distinct(col(StatusChange.customer_id)))).where(
            col(StatusChange.to_status) == "churned",
            col(StatusChange.changed_at) >= from_,
            col(StatusChange.changed_at) < to,
        )
    )
    values = await session.execute(
        select(col(Customer.monetary)).where(col(Customer.id).in_(select(at_end.c.customer_id)))
    )
    monetary = [v for (v,) in values]
    average = (sum(monetary, Decimal(0)) / len(monetary)).quantize(Decimal("0.01")) if monetary else Decimal("0.00")
    return RetentionReport(
        period_from=from_,
        period_to=to,
        active_at_start=start_n or 0,
        active_at_end=end_n or 0,
        acquired=acquired or 0,
        churned=churned or 0,
        retention_rate_percent=retention_rate(start_n or 0, end_n or 0, acquired or 0),
        churn_rate_percent=rate(churned or 0, start_n or 0),
        average_lifetime_value=average,
        value_currency=settings.value_currency,
    )
