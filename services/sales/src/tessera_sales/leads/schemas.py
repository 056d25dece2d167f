from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tessera_sales.api import Currency, MoneyIn, MoneyOut, OwnerId, Text200, Text500
from tessera_sales.deals.schemas import LineItemIn, StageKey
from tessera_sales.money import check_minor_units
from tessera_shared.custom_fields import CustomFieldValues
from tessera_shared.emails import Email
from tessera_shared.http.inputs import IsoDate
from tessera_shared.tags import TagList

LeadSource = Literal["campaign", "web_form", "referral", "trade_show", "cold_call", "partner", "other"]
LeadStatus = Literal["new", "contacted", "qualified", "disqualified"]
# The customer service's phone rule, so a converted lead is never refused there.
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()./-]{5,40}$")]


class _ValueWithCurrency(BaseModel):
    @model_validator(mode="after")
    def _currency_with_value(self) -> Any:
        if getattr(self, "estimated_value", None) is not None and getattr(self, "currency", None) is None:
            raise ValueError("currency is required with estimated_value")
        return self


class LeadCreate(_ValueWithCurrency):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "Grace Hopper", "company": "Navy Labs", "email": "grace@example.com", "source": "web_form"}
            ]
        },
    )

    name: Text200
    company: Text200 | None = None
    title: Text200 | None = None
    email: Email | None = None
    phone: Phone | None = None
    source: LeadSource
    custom_fields: CustomFieldValues | None = None
    owner_id: OwnerId | None = None
    campaign_id: uuid.UUID | None = None
    estimated_value: MoneyIn | None = None
    currency: Currency | None = None
    tags: TagList = Field(default_factory=list)
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = Field(
        default=None, description="ISO 3166-1 alpha-2: with region, what routes the lead to a team's territory"
    )
    region: Text200 | None = None
    team_id: uuid.UUID | None = Field(
        default=None, description="the lead's team (managers only); by default the territory's team, if any"
    )


class LeadPatch(_ValueWithCurrency):
    model_config = ConfigDict(extra="forbid")

    name: Text200 | None = None
    company: Text200 | None = None
    title: Text200 | None = None
    email: Email | None = None
    phone: Phone | None = None
    source: LeadSource | None = None
    status: LeadStatus | None = None
    disqualified_reason: Text500 | None = None
    custom_fields: CustomFieldValues | None = None
    owner_id: OwnerId | None = None
    campaign_id: uuid.UUID | None = None
    estimated_value: MoneyIn | None = None
    currency: Currency | None = None
    tags: TagList | None = Field(default=None, description="The lead's whole new list of tags")


class ScoreReason(BaseModel):
    rule: str
    points: int
    reason: str


class LeadOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    company: str | None
    title: str | None
    email: str | None
    phone: str | None
    source: str
    status: str
    score: int
    score_reasons: list[ScoreReason]
    engagement_count: int
    estimated_value: MoneyOut | None
    currency: str | None
    owner_id: str | None
    campaign_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    deal_id: uuid.UUID | None
    tags: list[str] = Field(default_factory=list)
    country: str | None = None
    region: str | None = None
    team_id: uuid.UUID | None = None
    disqualified_reason: str | None
    converted_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int
    custom_fields: dict[str, Any] = Field(default_factory=dict, description="typed custom field values by key")


class ConvertDeal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Text200
    currency: Currency
    amount: MoneyIn | None = None
    line_items: list[LineItemIn] = Field(default_factory=list, max_length=200)
    expected_close_date: IsoDate | None = None
    custom_fields: CustomFieldValues | None = None
    # The deal's pipeline (the default one without it) and an open stage of it (without one:
    # qualification in the default pipeline, the first open stage in another).
    pipeline_id: uuid.UUID | None = None
    stage: StageKey | None = None

    @field_validator("amount")
    @classmethod
    def _minor_units(cls, v: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if info.data.get("currency"):
            check_minor_units(v, info.data["currency"], "amount")
        return v


class ConvertRequest(BaseModel):
    """Without ``customer_id`` a new customer is created in the customer service from the lead."""

    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID | None = None
    deal: ConvertDeal | None = None


class ConvertResult(BaseModel):
    lead: LeadOut
    customer_id: uuid.UUID
    customer_created: bool
    deal_id: uuid.UUID | None
