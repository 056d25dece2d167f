from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Index, Integer, String
from sqlmodel import Field

from tessera_sales.models import Base
from tessera_sales.money import normalise_on_load
from tessera_shared.custom_fields import custom_fields_column
from tessera_shared.db import JSONType, Money, UTCDateTime, new_id, utcnow
from tessera_shared.tags import TagIndex, tag_table


class Lead(Base, table=True):
    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_owner_id_id", "owner_id", "id"),
        Index("ix_leads_team_id_id", "team_id", "id"),
        Index("ix_leads_status_id", "status", "id"),
        Index("ix_leads_campaign_id", "campaign_id"),
        Index("ix_leads_customer_id", "customer_id"),
        # What POST /v1/leads/search filters and sorts by; name and company prefixes (pattern ops).
        Index("ix_leads_source_id", "source", "id"),
        Index("ix_leads_score_id", "score", "id"),
        Index("ix_leads_created_at_id", "created_at", "id"),
        Index("ix_leads_email", "email"),
        Index("ix_leads_name", "name", postgresql_ops={"name": "varchar_pattern_ops"}),
        Index("ix_leads_company", "company", postgresql_ops={"company": "varchar_pattern_ops"}),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    company: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    title: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    email: str | None = Field(default=None, sa_column=Column(String(320), nullable=True))
    phone: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    source: str = Field(sa_column=Column(String(20), nullable=False))
    status: str = Field(default="new", sa_column=Column(String(20), nullable=False))
    estimated_value: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    currency: str | None = Field(default=None, sa_column=Column(String(3), nullable=True))
    score: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    score_reasons: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    # Activities logged against the lead: the engagement part of the score.
    engagement_count: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    owner_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    campaign_id: uuid.UUID | None = Field(default=None, nullable=True)
    customer_id: uuid.UUID | None = Field(default=None, nullable=True)
    # Sorted, each once; lead_tags holds one row per tag for the list filter (tessera_shared.tags).
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False, server_default="[]"))
    deal_id: uuid.UUID | None = Field(default=None, nullable=True)
    # Where the lead is (ISO 3166-1 alpha-2, free-text region): what territory routing reads.
    country: str | None = Field(default=None, sa_column=Column(String(2), nullable=True))
    region: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    # The lead's team: routed by territory when created, or named by a manager (tessera_sales.teams).
    team_id: uuid.UUID | None = Field(default=None, nullable=True)
    disqualified_reason: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    # The id in the system the record came from: what a batch upsert (and an import) finds it by.
    external_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True, unique=True))
    # Typed custom field values by key (tessera_sales.custom_fields; JSONB on PostgreSQL).
    custom_fields: dict[str, Any] = Field(default_factory=dict, sa_column=custom_fields_column())
    converted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, nullable=False)


LEAD_TAGS = tag_table(Base.metadata, "lead_tags", "leads", "lead_id")
TAGS = TagIndex(LEAD_TAGS, Lead.id)

normalise_on_load(Lead, money={"estimated_value": "currency"})
