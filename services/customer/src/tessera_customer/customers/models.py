from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, Index, String
from sqlmodel import Field

from tessera_customer.models import Base
from tessera_shared.db import JSONType, UTCDateTime, new_id, utcnow


class Customer(Base, table=True):
    __tablename__ = "customers"
    __table_args__ = (Index("ix_customers_owner_id_id", "owner_id", "id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    email: str | None = Field(default=None, sa_column=Column(String(320), nullable=True, index=True))
    phone: str | None = Field(default=None, sa_column=Column(String(40), nullable=True, index=True))
    owner_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    status: str = Field(default="prospect", sa_column=Column(String(20), nullable=False, index=True))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, nullable=False)
