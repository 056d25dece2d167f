from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Column, Date, ForeignKey, Index, String
from sqlmodel import Field

from tessera_sales.models import Base
from tessera_sales.money import normalise_on_load
from tessera_shared.db import Money, UTCDateTime, new_id, utcnow


class Campaign(Base, table=True):
    __tablename__ = "campaigns"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    channel: str = Field(sa_column=Column(String(20), nullable=False))
    budget: Decimal = Field(sa_column=Column(Money(), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    starts_on: date = Field(sa_column=Column(Date, nullable=False))
    ends_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    created_by: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, nullable=False)


class CampaignMember(Base, table=True):
    __tablename__ = "campaign_members"
    # A consent change finds the customer's memberships in every campaign.
    __table_args__ = (Index("ix_campaign_members_member_type_member_id", "member_type", "member_id"),)

    campaign_id: uuid.UUID = Field(sa_column=Column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True))
    member_type: str = Field(sa_column=Column(String(10), primary_key=True))
    member_id: uuid.UUID = Field(primary_key=True)
    added_by: str = Field(sa_column=Column(String(200), nullable=False))
    added_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    # active | suspended (a customer member whose consent is gone: docs/domain.md §10.4), and why.
    status: str = Field(default="active", sa_column=Column(String(10), nullable=False, server_default="active"))
    status_reason: str | None = Field(default=None, sa_column=Column(String(30), nullable=True))
    status_changed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class CustomerConsent(Base, table=True):
    """Sales' copy of each customer's current consent per purpose, kept from customer.consent_changed
    (the newest answer wins; customer.erased withdraws them all)."""

    __tablename__ = "customer_consents"

    customer_id: uuid.UUID = Field(primary_key=True)
    purpose: str = Field(sa_column=Column(String(30), primary_key=True))
    granted: bool = Field(sa_column=Column(Boolean, nullable=False))
    source: str = Field(sa_column=Column(String(100), nullable=False))
    changed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class CampaignCost(Base, table=True):
    """An expense entry (报销单据) booked against a campaign."""

    __tablename__ = "campaign_costs"
    __table_args__ = (Index("ix_campaign_costs_campaign_id_id", "campaign_id", "id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    campaign_id: uuid.UUID = Field(sa_column=Column(ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False))
    description: str = Field(sa_column=Column(String(300), nullable=False))
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    incurred_on: date = Field(sa_column=Column(Date, nullable=False))
    recorded_by: str = Field(sa_column=Column(String(200), nullable=False))
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


normalise_on_load(Campaign, money={"budget": "currency"})
normalise_on_load(CampaignCost, money={"amount": "currency"})
