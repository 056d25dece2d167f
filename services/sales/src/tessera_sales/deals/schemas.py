from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from tessera_sales.api import Currency, MoneyIn, MoneyOut, OwnerId, Text200, Text500
from tessera_sales.money import check_minor_units
from tessera_shared.custom_fields import CustomFieldValues
from tessera_shared.decimals import Percent, Quantity
from tessera_shared.http.inputs import IsoDate, Trim
from tessera_shared.tags import TagList

OpenStage = Literal["prospecting", "qualification", "proposal", "negotiation"]
# A stage key of the deal's pipeline (tessera_sales.pipelines); the service checks it against the pipeline.
StageKey = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class LineItemIn(BaseModel):
    """A product line; with ``product_code`` the catalog fills description and unit price."""

    model_config = ConfigDict(extra="forbid")

    product_code: Annotated[str, Trim(min_length=1, max_length=50)] | None = None
    description: Text500 | None = None
    quantity: Quantity
    unit_price: MoneyIn | None = None
    discount_percent: Percent = Decimal(0)
    tax_rate_percent: Percent | None = None


class LineItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    product_code: str | None
    description: str
    quantity: MoneyOut
    unit_price: MoneyOut
    discount_percent: MoneyOut
    tax_rate_percent: MoneyOut | None
    line_total: MoneyOut


class DealCreate(BaseModel):
    """``amount`` is the sum of ``line_items`` when lines are given (a differing amount is refused)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    title: Text200
    currency: Currency
    amount: MoneyIn | None = None
    line_items: list[LineItemIn] = Field(default_factory=list, max_length=200)
    owner_id: OwnerId | None = None
    expected_close_date: IsoDate | None = None
    tags: TagList = Field(default_factory=list)
    # Without one, the default pipeline; without a stage, the pipeline's first open stage.
    pipeline_id: uuid.UUID | None = None
    stage: StageKey | None = None
    probability: StrictInt | None = Field(default=None, ge=0, le=100)
    campaign_id: uuid.UUID | None = None
    payment_terms_days: StrictInt | None = Field(default=None, ge=0, le=365)
    custom_fields: CustomFieldValues | None = None

    @field_validator("amount")
    @classmethod
    def _minor_units(cls, v: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if info.data.get("currency"):
            check_minor_units(v, info.data["currency"], "amount")
        return v


class DealPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Text200 | None = None
    amount: MoneyIn | None = None
    line_items: list[LineItemIn] | None = Field(default=None, max_length=200)
    owner_id: OwnerId | None = None
    expected_close_date: IsoDate | None = None
    tags: TagList | None = Field(default=None, description="The deal's whole new list of tags")
    # Another pipeline (an open deal only), with ``stage`` one of its open stages (else its first).
    pipeline_id: uuid.UUID | None = None
    stage: StageKey | None = None
    probability: StrictInt | None = Field(default=None, ge=0, le=100)
    campaign_id: uuid.UUID | None = None
    payment_terms_days: StrictInt | None = Field(default=None, ge=0, le=365)
    custom_fields: CustomFieldValues | None = None


class WinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A finance manager (or admin) lets the deal through the customer's credit hold.
    credit_override: StrictBool = False
    payment_terms_days: StrictInt | None = Field(default=None, ge=0, le=365)


class LoseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text500


class ReopenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text500
    # Without one, the pipeline's last open stage (negotiation in the default pipeline).
    stage: StageKey | None = None


class DealOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID
    title: str
    amount: MoneyOut
    currency: str
    pipeline_id: uuid.UUID
    stage: str
    probability: int
    probability_overridden: bool
    owner_id: str | None
    expected_close_date: date | None
    campaign_id: uuid.UUID | None
    lead_id: uuid.UUID | None
    payment_terms_days: int | None
    tags: list[str] = Field(default_factory=list)
    lost_reason: str | None
    credit_override_by: str | None
    closed_at: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int
    line_items: list[LineItemOut] = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict, description="typed custom field values by key")
    # The names the deal's pipeline gives itself and the stage (filled by the routers).
    pipeline_name: str | None = None
    stage_name: str | None = None


class StageChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    pipeline_id: uuid.UUID | None
    from_stage: str | None
    to_stage: str
    changed_by: str
    entered_at: datetime
    left_at: datetime | None
    duration_seconds: int | None
    reason: str | None


class StageHistory(BaseModel):
    items: list[StageChangeOut]
