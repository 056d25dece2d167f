from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String, Uuid
from sqlmodel import Field

from tessera_customer.models import Base
from tessera_shared.custom_fields import custom_fields_column
from tessera_shared.db import UTCDateTime, new_id, utcnow

BUYING_ROLES = ("decision_maker", "influencer", "user", "gatekeeper")


class Contact(Base, table=True):
    """A named person at an organisation customer."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_customer_id_id", "customer_id", "id"),
        # A batch upsert by email finds its contacts with one index read.
        Index("ix_contacts_email", "email"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    customer_id: uuid.UUID = Field(
        sa_column=Column(Uuid(), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False)
    )
    name: str = Field(sa_column=Column(String(200), nullable=False))
    title: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    department: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    email: str | None = Field(default=None, sa_column=Column(String(320), nullable=True))
    phone: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    buying_role: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    # Typed custom field values by key (tessera_customer.custom_fields).
    custom_fields: dict[str, Any] = Field(default_factory=dict, sa_column=custom_fields_column())
    # The id in the system the contact came from: what a batch upsert finds it by.
    external_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True, unique=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, nullable=False)
