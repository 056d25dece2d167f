from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Column, Date, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field

from tessera_sales.models import Base
from tessera_sales.money import normalise_on_load
from tessera_sales.pipelines import models as _pipelines  # noqa: F401 - the table deals.pipeline_id refers to
from tessera_shared.custom_fields import custom_fields_column
from tessera_shared.db import JSONType, Money, UTCDateTime, new_id, utcnow
from tessera_shared.tags import TagIndex, tag_table


class Deal(Base, table=True):
    __tablename__ = "deals"
    __table_args__ = (
        Index("ix_deals_owner_id_id", "owner_id", "id"),
        Index("ix_deals_team_id_id", "team_id", "id"),
        Index("ix_deals_customer_id_id", "customer_id", "id"),
        Index("ix_deals_stage_close_month", "stage", "close_month"),
        Index("ix_deals_campaign_id", "campaign_id"),
        # A pipeline's open deals: the forecast and the guard of a stage's removal.
        Index("ix_deals_pipeline_id_stage_kind_stage", "pipeline_id", "stage_kind", "stage"),
        # The search's stage_kind across pipelines (open deals of every pipeline), in id order.
        Index("ix_deals_stage_kind_id", "stage_kind", "id"),
        # What POST /v1/deals/search filters and sorts by (every property an index; the title's
        # prefix with pattern ops, for LIKE 'abc%' whatever the database's collation).
        Index("ix_deals_amount_id", "amount", "id"),
        Index("ix_deals_expected_close_date", "expected_close_date"),
        Index("ix_deals_created_at_id", "created_at", "id"),
        Index("ix_deals_title", "title", postgresql_ops={"title": "varchar_pattern_ops"}),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    customer_id: uuid.UUID = Field(nullable=False)
    title: str = Field(sa_column=Column(String(200), nullable=False))
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    # The amount in minor units: exact SUM() in reports on both databases.
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    # The deal's pipeline (tessera_sales.pipelines); ``stage`` is one of its stage keys.
    pipeline_id: uuid.UUID = Field(sa_column=Column(ForeignKey("pipelines.id"), nullable=False))
    stage: str = Field(sa_column=Column(String(40), nullable=False))
    # The stage's kind in its pipeline (open | won | lost): what is open or closed without a join.
    stage_kind: str = Field(default="open", sa_column=Column(String(10), nullable=False, server_default="open"))
    probability: int = Field(sa_column=Column(Integer, nullable=False))
    # Set when someone chose a probability other than the stage's default; cleared on stage change.
    probability_overridden: bool = Field(default=False, nullable=False)
    owner_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    expected_close_date: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    # 'YYYY-MM' of the expected close date: the forecast groups by it without dialect-specific SQL.
    close_month: str | None = Field(default=None, sa_column=Column(String(7), nullable=True))
    # Furthest funnel stage the history reached (its rank in the pipeline's funnel): the funnel is
    # one GROUP BY over deals.
    furthest_rank: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    campaign_id: uuid.UUID | None = Field(default=None, nullable=True)
    lead_id: uuid.UUID | None = Field(default=None, nullable=True)
    # The deal's team: its lead's when made from one (tessera_sales.teams).
    team_id: uuid.UUID | None = Field(default=None, nullable=True)
    # Sorted, each once; deal_tags holds one row per tag for the list filter (tessera_shared.tags).
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False, server_default="[]"))
    payment_terms_days: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    lost_reason: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    credit_override_by: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # Seconds from creation to close: the average sales cycle without date arithmetic in SQL.
    cycle_seconds: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # Whether the amount is above the large-deal threshold: only a crossing alerts again.
    large_flagged: bool = Field(default=False, nullable=False)
    # The id in the system the record came from: what a batch upsert (and an import) finds it by.
    external_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True, unique=True))
    # Typed custom field values by key (tessera_sales.custom_fields; JSONB on PostgreSQL).
    custom_fields: dict[str, Any] = Field(default_factory=dict, sa_column=custom_fields_column())
    created_by: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, nullable=False)


DEAL_TAGS = tag_table(Base.metadata, "deal_tags", "deals", "deal_id")
TAGS = TagIndex(DEAL_TAGS, Deal.id)


class DealLine(Base, table=True):
    __tablename__ = "deal_lines"
    __table_args__ = (Index("ix_deal_lines_product_code", "product_code"),)

    deal_id: uuid.UUID = Field(sa_column=Column(ForeignKey("deals.id", ondelete="CASCADE"), primary_key=True))
    position: int = Field(sa_column=Column(Integer, primary_key=True))
    product_code: str | None = Field(default=None, sa_column=Column(String(50), nullable=True))
    description: str = Field(sa_column=Column(String(500), nullable=False))
    quantity: Decimal = Field(sa_column=Column(Money(), nullable=False))
    unit_price: Decimal = Field(sa_column=Column(Money(), nullable=False))
    discount_percent: Decimal = Field(sa_column=Column(Money(), nullable=False))
    tax_rate_percent: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    line_total: Decimal = Field(sa_column=Column(Money(), nullable=False))


class DealStageChange(Base, table=True):
    """One row per stage a deal entered: who moved it, when, from where; closed when it leaves."""

    __tablename__ = "deal_stage_changes"
    __table_args__ = (
        Index("ix_deal_stage_changes_deal_id_entered_at", "deal_id", "entered_at"),
        Index("ix_deal_stage_changes_stage", "to_stage"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    deal_id: uuid.UUID = Field(sa_column=Column(ForeignKey("deals.id", ondelete="CASCADE"), nullable=False))
    # The pipeline to_stage belongs to (a deal may move to another pipeline).
    pipeline_id: uuid.UUID | None = Field(default=None, nullable=True)
    from_stage: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    to_stage: str = Field(sa_column=Column(String(40), nullable=False))
    # Funnel position of to_stage in its pipeline (1 the first open stage .. the won stage; 0 lost).
    to_rank: int = Field(sa_column=Column(Integer, nullable=False))
    changed_by: str = Field(sa_column=Column(String(200), nullable=False))
    entered_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    left_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    duration_seconds: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # Why: the lost reason, or the audited reason for a reopen.
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


normalise_on_load(Deal, money={"amount": "currency"})
normalise_on_load(
    DealLine, money={"unit_price": None, "line_total": None}, plain=("quantity", "discount_percent", "tax_rate_percent")
)
