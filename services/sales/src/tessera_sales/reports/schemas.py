from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from pydantic import BaseModel

from tessera_sales.api import MoneyOut


class ForecastRow(BaseModel):
    close_month: str | None
    owner_id: str | None
    currency: str
    deals: int
    pipeline: MoneyOut
    weighted: MoneyOut


class Forecast(BaseModel):
    """Open deals of one pipeline by expected close month ('YYYY-MM'; null: no date yet) and owner, per currency."""

    pipeline_id: uuid.UUID
    pipeline_name: str
    rows: list[ForecastRow]
    totals: list[ForecastRow]


class FunnelStepOut(BaseModel):
    stage: str
    stage_name: str | None = None
    reached: int
    conversion_to_next: Decimal | None


class Funnel(BaseModel):
    pipeline_id: uuid.UUID
    pipeline_name: str
    created_from: date | None
    created_to: date | None
    deals: int
    lost: int
    steps: list[FunnelStepOut]


class WonAmount(BaseModel):
    currency: str
    amount: MoneyOut


class RepPerformance(BaseModel):
    owner_id: str | None
    won: int
    lost: int
    win_rate: Decimal | None
    won_amounts: list[WonAmount]
    average_cycle_seconds: int | None
    activities: int


class StageTime(BaseModel):
    stage: str
    stage_name: str | None = None
    transitions: int
    average_seconds: int | None


class SalesPerformance(BaseModel):
    """Deals of one pipeline; ``activities`` are the reps' across pipelines (an activity has none)."""

    pipeline_id: uuid.UUID
    pipeline_name: str
    closed_from: date | None
    closed_to: date | None
    won: int
    lost: int
    win_rate: Decimal | None
    average_cycle_seconds: int | None
    stage_times: list[StageTime]
    reps: list[RepPerformance]
