from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, String
from sqlmodel import Field

from tessera_sales.models import Base
from tessera_shared.db import UTCDateTime, new_id, utcnow


class Pipeline(Base, table=True):
    """A sales pipeline: its stages are ``PipelineStage`` rows in ``position`` order."""

    __tablename__ = "pipelines"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    key: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    is_default: bool = Field(default=False, nullable=False)
    archived_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_by: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, nullable=False)


class PipelineStage(Base, table=True):
    __tablename__ = "pipeline_stages"

    pipeline_id: uuid.UUID = Field(sa_column=Column(ForeignKey("pipelines.id", ondelete="CASCADE"), primary_key=True))
    key: str = Field(sa_column=Column(String(40), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    position: int = Field(sa_column=Column(Integer, nullable=False))
    probability: int = Field(sa_column=Column(Integer, nullable=False))
    # open | won | lost
    kind: str = Field(sa_column=Column(String(10), nullable=False))
    archived_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
