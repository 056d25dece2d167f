"""The gateway's row of a bulk ownership transfer: the request and the services' jobs (its parts)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, String
from sqlmodel import Field

from tessera_gateway.models import Base
from tessera_shared.db import JSONType, UTCDateTime, new_id, utcnow


class OwnershipTransfer(Base, table=True):
    __tablename__ = "ownership_transfers"
    __table_args__ = (Index("ix_ownership_transfers_created_at", "created_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    from_user: str = Field(sa_column=Column(String(200), nullable=False))
    to_user: str = Field(sa_column=Column(String(200), nullable=False))
    resources: list[str] = Field(sa_column=Column(JSONType, nullable=False))
    only_open: bool = Field(nullable=False)
    requested_by: str = Field(sa_column=Column(String(200), nullable=False))
    # One entry per owning service: {"service": ..., "resources": [...], "id": its job id | null,
    # "error": why the service refused or could not be reached | null}.
    parts: list[dict[str, Any]] = Field(sa_column=Column(JSONType, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
