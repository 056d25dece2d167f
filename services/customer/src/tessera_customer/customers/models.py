from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Uuid
from sqlmodel import Field

from tessera_customer.models import Base
from tessera_shared.custom_fields import custom_fields_column
from tessera_shared.db import JSONType, Money, UTCDateTime, new_id, table_of, utcnow
from tessera_shared.tags import TagIndex

# Segmentation variables stored as plain columns so that segments can filter on them.
DEMOGRAPHIC = ("gender", "age_band", "occupation", "education")
GEOGRAPHIC = ("country", "region", "city", "climate_zone")
PSYCHOGRAPHIC = ("lifestyle", "social_status", "preferences")
NAME_KEY_TYPE = String(200).with_variant(String(200, collation="C"), "postgresql")


class Customer(Base, table=True):
    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_owner_id_id", "owner_id", "id"),
        Index("ix_customers_tier_id", "tier", "id"),
        Index("ix_customers_last_purchase_at", "last_purchase_at"),
        Index("ix_customers_monetary_id", "monetary", "id"),
        # The pool job looks for owned customers whose owner went quiet.
        Index("ix_customers_owner_active_at", "owner_active_at"),
        # Prefix search (LIKE 'abc%') needs pattern ops on PostgreSQL unless the collation is C;
        # they serve equality (filters, dedup joins) just as well.
        # Keyset pages by (column, id): a filtered page is an index range read in id order that stops
        # after limit + 1 rows instead of a bitmap over every match and a sort.
        Index("ix_customers_status_id", "status", "id"),
        Index("ix_customers_country_id", "country", "id"),
        Index("ix_customers_relation_id", "relation", "id"),
        Index("ix_customers_rfm_segment_id", "rfm_segment", "id"),
        # Search pages in (name_key, id) order: a name prefix is one range of this index (C collation).
        Index("ix_customers_name_key_id", "name_key", "id"),
        Index("ix_customers_email", "email", postgresql_ops={"email": "varchar_pattern_ops"}),
        Index("ix_customers_phone", "phone", postgresql_ops={"phone": "varchar_pattern_ops"}),
        # The rest of what POST /v1/customers/search filters and sorts by (every property an index).
        Index("ix_customers_kind_id", "kind", "id"),
        Index("ix_customers_created_at_id", "created_at", "id"),
        # A team's customers (?team_id=, the team lead's scope).
        Index("ix_customers_team_id_id", "team_id", "id"),
        # Room on each page for the value job's updates to stay heap-only (see the migration).
        {"postgresql_with": {"fillfactor": 90}},
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    email: str | None = Field(default=None, sa_column=Column(String(320), nullable=True))
    phone: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    owner_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    status: str = Field(default="prospect", sa_column=Column(String(20), nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, nullable=False)

    # Normalised name (lower case, no punctuation or legal suffix): search prefix and dedup key.
    # C collation on PostgreSQL: byte order (as SQLite's), so one btree serves LIKE 'abc%' and ORDER BY.
    name_key: str = Field(default="", sa_column=Column(NAME_KEY_TYPE, nullable=False))
    external_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True, unique=True))
    channels: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    custom_attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    # Typed custom field values by key (tessera_customer.custom_fields; JSONB on PostgreSQL).
    custom_fields: dict[str, Any] = Field(default_factory=dict, sa_column=custom_fields_column())
    relation: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    relationship_type: str | None = Field(default=None, sa_column=Column(String(30), nullable=True))

    gender: str | None = Field(default=None, sa_column=Column(String(30), nullable=True))
    age_band: str | None = Field(default=None, sa_column=Column(String(30), nullable=True))
    occupation: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    education: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    country: str | None = Field(default=None, sa_column=Column(String(2), nullable=True))
    region: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    city: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    climate_zone: str | None = Field(default=None, sa_column=Column(String(50), nullable=True))
    lifestyle: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    social_status: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    preferences: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))

    # Computed value (from facts other services publish); see value/rules.py.
    lifecycle_stage: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    tier: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    purchase_count: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    first_purchase_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    last_purchase_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    lifetime_values: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    # Revenue over the value window in the reporting currency: what tiering and win-back sort by.
    monetary: Decimal = Field(default=Decimal(0), sa_column=Column(Money(), nullable=False, default=0))
    rfm_recency: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    rfm_frequency: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    rfm_monetary: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    rfm_segment: str | None = Field(default=None, sa_column=Column(String(30), nullable=True))
    frequency_class: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    churn_risk: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    value_computed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))

    # When the owner last acted on the customer: the pool rule returns stale customers.
    owner_active_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    erased_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    merged_into_id: uuid.UUID | None = Field(default=None, nullable=True)
    # The team the customer belongs to: routed by territory when created (tessera_shared.teams),
    # or named by a manager.
    team_id: uuid.UUID | None = Field(default=None, nullable=True)


class CustomerTag(Base, table=True):
    """One row per tag: lets the list filter by tag through an index on both databases."""

    __tablename__ = "customer_tags"
    __table_args__ = (Index("ix_customer_tags_tag_customer_id", "tag", "customer_id"),)

    customer_id: uuid.UUID = Field(
        sa_column=Column(Uuid(), ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    )
    tag: str = Field(sa_column=Column(String(50), primary_key=True))


# The list's ?tag=, the search language's tags and the rows' upkeep (tessera_shared.tags).
TAGS = TagIndex(table_of(CustomerTag), Customer.id)


class AccessLog(Base, table=True):
    """Who read a customer's personal data, and when (privacy audit)."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_customer_id_at", "customer_id", "at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    customer_id: uuid.UUID = Field(nullable=False)
    principal: str = Field(sa_column=Column(String(200), nullable=False))
    action: str = Field(sa_column=Column(String(30), nullable=False))
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
