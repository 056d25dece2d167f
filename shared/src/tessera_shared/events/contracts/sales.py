"""Facts published by the sales service on ``crm.sales`` (key: the customer id, else the lead id)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from tessera_shared.events.contracts.types import (
    Amount,
    Changes,
    Currency,
    ExchangeRate,
    NonNegativeAmount,
    Personal,
    Quantity,
    Rate,
)
from tessera_shared.events.envelope import EventData

DealStage = Literal["prospecting", "qualification", "proposal", "negotiation", "won", "lost"]
LeadStatus = Literal["new", "contacted", "qualified", "disqualified"]
LeadSource = Literal["campaign", "web_form", "referral", "trade_show", "cold_call", "partner", "other"]
ActivityKind = Literal["call", "meeting", "email", "visit", "note", "task"]
CampaignMemberStatus = Literal["active", "suspended"]
StageKind = Literal["open", "won", "lost"]


class SalesEvent(EventData):
    producer: ClassVar[str] = "sales"


class LineItem(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    product_code: str | None = None
    description: Annotated[str, Personal]
    quantity: Quantity
    unit_price: NonNegativeAmount
    discount_percent: Rate = Field(default=Decimal(0))
    tax_rate_percent: Rate | None = None


class CreditCheck(BaseModel):
    """The credit-limit check of a win (docs/domain.md §10.1), in the limit's currency."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    credit_limit: Amount
    exposure: Amount
    # The deal's amount converted into the limit's currency.
    amount: Amount
    currency: Currency
    # 1 deal currency = rate limit currency; null when the deal is in the limit's currency.
    exchange_rate: ExchangeRate | None = None
    fits: bool


class LeadCreated(SalesEvent):
    event_type: ClassVar[str] = "lead.created"

    lead_id: uuid.UUID
    source: LeadSource
    name: Annotated[str, Personal]
    company: str | None = None
    owner_id: str | None = None
    score: int
    campaign_id: uuid.UUID | None = None
    # The lead's typed custom field values by key (issue 24 part 2; absent from events published before).
    custom_fields: Annotated[dict[str, Any], Personal] = Field(default_factory=dict)
    # The lead's tags, sorted (issue 24 part 3; absent from events published before).
    tags: list[str] = Field(default_factory=list)
    created_at: datetime
    # The lead's team (routed by territory, or named by a manager; absent: none or published before).
    team_id: uuid.UUID | None = None


class LeadChanges(Changes):
    """The fields of a lead a change set (new values); ``score`` when the change moved it."""

    name: Annotated[str | None, Personal] = None
    company: str | None = None
    title: Annotated[str | None, Personal] = None
    email: Annotated[str | None, Personal] = None
    phone: Annotated[str | None, Personal] = None
    source: LeadSource | None = None
    status: LeadStatus | None = None
    disqualified_reason: Annotated[str | None, Personal] = None
    owner_id: str | None = None
    campaign_id: uuid.UUID | None = None
    estimated_value: NonNegativeAmount | None = None
    currency: Currency | None = None
    score: int | None = None
    # The whole new object of custom field values when one changed.
    custom_fields: Annotated[dict[str, Any] | None, Personal] = None
    # The whole new list when the tags changed.
    tags: list[str] | None = None


class LeadUpdated(SalesEvent):
    """A lead's fields changed (``PATCH /v1/leads/{id}``); not published when nothing changed."""

    event_type: ClassVar[str] = "lead.updated"

    lead_id: uuid.UUID
    # Set once the lead names a customer (the event is then keyed by it).
    customer_id: uuid.UUID | None = None
    owner_id: str | None = None
    changes: LeadChanges
    version: int = Field(ge=1)
    updated_by: str
    updated_at: datetime


class LeadConverted(SalesEvent):
    event_type: ClassVar[str] = "lead.converted"

    lead_id: uuid.UUID
    customer_id: uuid.UUID
    deal_id: uuid.UUID | None = None
    source: LeadSource
    campaign_id: uuid.UUID | None = None
    owner_id: str | None = None
    converted_at: datetime


class DealCreated(SalesEvent):
    event_type: ClassVar[str] = "deal.created"

    deal_id: uuid.UUID
    customer_id: uuid.UUID
    title: Annotated[str, Personal]
    amount: NonNegativeAmount
    currency: Currency
    stage: DealStage
    probability: int = Field(ge=0, le=100)
    owner_id: str | None = None
    expected_close_date: date | None = None
    campaign_id: uuid.UUID | None = None
    # The deal's tags, sorted (issue 24 part 3; absent from events published before).
    tags: list[str] = Field(default_factory=list)
    created_at: datetime
    # The deal's pipeline and its own stage (``stage`` keeps the six standard values: a custom
    # pipeline's open stage is announced as the standard one at its place in the funnel).
    pipeline_id: uuid.UUID | None = None
    pipeline_name: str | None = None
    stage_key: str | None = None
    stage_name: str | None = None
    # The deal's typed custom field values by key (issue 24 part 2; absent from events published before).
    custom_fields: Annotated[dict[str, Any], Personal] = Field(default_factory=dict)
    # The deal's team: its lead's when made from one (absent: none or published before).
    team_id: uuid.UUID | None = None


class DealChanges(Changes):
    """The fields of a deal a change set (new values). The stage is not among them: a move is
    ``deal.stage_changed`` (with the probability it brings)."""

    title: Annotated[str | None, Personal] = None
    amount: NonNegativeAmount | None = None
    # The whole new list when the lines were replaced.
    line_items: list[LineItem] | None = None
    owner_id: str | None = None
    expected_close_date: date | None = None
    probability: int | None = Field(default=None, ge=0, le=100)
    campaign_id: uuid.UUID | None = None
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    # The whole new object of custom field values when one changed.
    custom_fields: Annotated[dict[str, Any] | None, Personal] = None
    # The whole new list when the tags changed.
    tags: list[str] | None = None


class DealUpdated(SalesEvent):
    """A deal's fields changed (``PATCH /v1/deals/{id}``); not published when nothing changed."""

    event_type: ClassVar[str] = "deal.updated"

    deal_id: uuid.UUID
    customer_id: uuid.UUID
    # The deal's owner after the change.
    owner_id: str | None = None
    currency: Currency
    changes: DealChanges
    version: int = Field(ge=1)
    updated_by: str
    updated_at: datetime


class DealStageChanged(SalesEvent):
    event_type: ClassVar[str] = "deal.stage_changed"

    deal_id: uuid.UUID
    customer_id: uuid.UUID
    from_stage: DealStage
    to_stage: DealStage
    probability: int = Field(ge=0, le=100)
    amount: NonNegativeAmount
    currency: Currency
    changed_by: str
    changed_at: datetime
    # The deal's owner: the customer timeline shows the entry under sales' owner rule (absent in
    # events published before it was added: then only those who read every deal see the entry).
    owner_id: str | None = None
    # The pipeline's own stages (from_stage/to_stage keep the six standard values); a move to
    # another pipeline names the pipeline left in from_pipeline_id.
    pipeline_id: uuid.UUID | None = None
    pipeline_name: str | None = None
    from_pipeline_id: uuid.UUID | None = None
    from_stage_key: str | None = None
    to_stage_key: str | None = None
    stage_name: str | None = None


class DealWon(SalesEvent):
    event_type: ClassVar[str] = "deal.won"

    deal_id: uuid.UUID
    customer_id: uuid.UUID
    title: Annotated[str, Personal]
    amount: NonNegativeAmount
    currency: Currency
    line_items: list[LineItem]
    # None: billing uses the customer's credit profile.
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    owner_id: str | None = None
    campaign_id: uuid.UUID | None = None
    # Set when a finance manager let the deal through a credit hold.
    credit_override_by: str | None = None
    won_at: datetime
    pipeline_id: uuid.UUID | None = None
    pipeline_name: str | None = None
    stage_key: str | None = None
    stage_name: str | None = None
    # The credit-limit check of the win; not fitting means credit_override_by approved it.
    credit_check: CreditCheck | None = None


class DealLost(SalesEvent):
    event_type: ClassVar[str] = "deal.lost"

    deal_id: uuid.UUID
    customer_id: uuid.UUID
    amount: NonNegativeAmount
    currency: Currency
    reason: Annotated[str, Personal]
    owner_id: str | None = None
    lost_at: datetime
    pipeline_id: uuid.UUID | None = None
    pipeline_name: str | None = None
    stage_key: str | None = None
    stage_name: str | None = None


class DealLargeDetected(SalesEvent):
    event_type: ClassVar[str] = "deal.large_detected"

    deal_id: uuid.UUID
    customer_id: uuid.UUID
    amount: NonNegativeAmount
    currency: Currency
    threshold: NonNegativeAmount
    owner_id: str | None = None
    detected_at: datetime


class PipelineStage(BaseModel):
    """One stage of a pipeline, in the pipeline's order."""

    key: str
    name: str
    position: int = Field(ge=1)
    probability: int = Field(ge=0, le=100)
    kind: StageKind
    archived: bool = False


class PipelineCreated(SalesEvent):
    """A sales pipeline (key: the pipeline id): its whole definition."""

    event_type: ClassVar[str] = "pipeline.created"

    pipeline_id: uuid.UUID
    key: str
    name: str
    is_default: bool
    stages: list[PipelineStage]
    version: int = Field(ge=1)
    created_by: str
    created_at: datetime


class PipelineUpdated(SalesEvent):
    """A pipeline after a change (renamed, stages added, reordered, re-weighted, archived or
    removed): its whole definition, and the keys of the stages removed by this change."""

    event_type: ClassVar[str] = "pipeline.updated"

    pipeline_id: uuid.UUID
    key: str
    name: str
    is_default: bool
    stages: list[PipelineStage]
    removed_stages: list[str] = Field(default_factory=list)
    # An archived pipeline takes no new deals; its deals stay in it.
    archived: bool = False
    version: int = Field(ge=1)
    updated_by: str
    updated_at: datetime


class ActivityLogged(SalesEvent):
    event_type: ClassVar[str] = "activity.logged"

    activity_id: uuid.UUID
    kind: ActivityKind
    subject: Annotated[str, Personal]
    customer_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    lead_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    owner_id: str | None = None
    occurred_at: datetime


class ActivityChanges(Changes):
    """The fields of an activity a change set (new values)."""

    subject: Annotated[str | None, Personal] = None
    notes: Annotated[str | None, Personal] = None
    due_at: datetime | None = None
    remind_at: datetime | None = None
    completed: bool | None = None
    # The new owner (a bulk ownership transfer moves open activities).
    owner_id: str | None = None


class ActivityUpdated(SalesEvent):
    """An activity changed (``PATCH /v1/activities/{id}``); not published when nothing changed."""

    event_type: ClassVar[str] = "activity.updated"

    activity_id: uuid.UUID
    kind: ActivityKind
    customer_id: uuid.UUID | None = None
    lead_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    owner_id: str | None = None
    changes: ActivityChanges
    version: int = Field(ge=1)
    updated_by: str
    updated_at: datetime


class ActivityDue(SalesEvent):
    """A task's reminder time has come (published once per task)."""

    event_type: ClassVar[str] = "activity.due"

    activity_id: uuid.UUID
    subject: Annotated[str, Personal]
    customer_id: uuid.UUID | None = None
    owner_id: str | None = None
    due_at: datetime | None = None
    remind_at: datetime


class CampaignMemberStatusChanged(SalesEvent):
    """A customer's membership of a campaign was suspended or made active again by a consent check
    (docs/domain.md §10.4). ``reason``: ``consent_withdrawn``, ``no_consent``, ``customer_erased``
    (suspended) or ``consent_given`` (active again)."""

    event_type: ClassVar[str] = "campaign.member_status_changed"

    campaign_id: uuid.UUID
    customer_id: uuid.UUID
    from_status: CampaignMemberStatus
    to_status: CampaignMemberStatus
    reason: str = Field(max_length=30)
    changed_at: datetime
