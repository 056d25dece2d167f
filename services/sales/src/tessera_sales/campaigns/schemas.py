from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from tessera_sales.api import Currency, MoneyIn, MoneyOut, Text200
from tessera_sales.money import check_minor_units
from tessera_shared.http.inputs import IsoDate

Channel = Literal["email", "sms", "phone", "social", "web", "search", "event", "print", "partner", "other"]
MemberType = Literal["customer", "lead", "segment"]


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text200
    channel: Channel
    currency: Currency
    budget: MoneyIn
    starts_on: IsoDate
    ends_on: IsoDate | None = None

    @field_validator("budget")
    @classmethod
    def _budget_units(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        if info.data.get("currency"):
            check_minor_units(v, info.data["currency"], "budget")
        return v

    @field_validator("ends_on")
    @classmethod
    def _ends_after_start(cls, v: date | None, info: ValidationInfo) -> date | None:
        if v is not None and info.data.get("starts_on") and v < info.data["starts_on"]:
            raise ValueError("ends_on is before starts_on")
        return v


class CampaignPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text200 | None = None
    channel: Channel | None = None
    budget: MoneyIn | None = None
    ends_on: IsoDate | None = None


class CampaignOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    channel: str
    budget: MoneyOut
    currency: str
    starts_on: date
    ends_on: date | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: MemberType
    id: uuid.UUID


class MembersAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    members: list[MemberIn] = Field(min_length=1, max_length=1000)


class SkippedMember(BaseModel):
    type: str
    id: uuid.UUID
    # no_consent | consent_withdrawn | customer_erased (docs/domain.md §10.4)
    reason: str
    message: str


class MembersAdded(BaseModel):
    added: int
    already_members: int
    # Customers of a request of several left out for want of consent, each with why.
    skipped: list[SkippedMember] = Field(default_factory=list)


class MemberOut(BaseModel):
    type: str
    id: uuid.UUID
    added_by: str
    added_at: datetime
    # active | suspended (a customer whose consent is gone); the reason of the last move.
    status: str
    status_reason: str | None
    status_changed_at: datetime | None


class CostCreate(BaseModel):
    """An expense entry (报销单据) booked against the campaign."""

    model_config = ConfigDict(extra="forbid")

    description: Text200
    currency: Currency
    amount: MoneyIn
    incurred_on: IsoDate

    @field_validator("amount")
    @classmethod
    def _amount_units(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        if info.data.get("currency"):
            check_minor_units(v, info.data["currency"], "amount")
        if v <= 0:
            raise ValueError("a cost is more than zero")
        return v


class CostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    campaign_id: uuid.UUID
    description: str
    amount: MoneyOut
    currency: str
    incurred_on: date
    recorded_by: str
    recorded_at: datetime


class RoiLine(BaseModel):
    currency: str
    cost: MoneyOut
    collected: MoneyOut
    # (collected - cost) / cost; null without cost in that currency.
    roi: Decimal | None


class CampaignRoi(BaseModel):
    campaign_id: uuid.UUID
    attributed_leads: int
    attributed_deals: int
    won_deals: int
    by_currency: list[RoiLine]
