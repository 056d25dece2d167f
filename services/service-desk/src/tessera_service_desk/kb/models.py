from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlmodel import Field

from tessera_service_desk.models import Base
from tessera_shared.db import JSONType, UTCDateTime, new_id, table_of, utcnow


class KbArticle(Base, table=True):
    __tablename__ = "kb_articles"
    __table_args__ = (Index("ix_kb_articles_status_id", "status", "id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    title: str = Field(sa_column=Column(String(300), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    status: str = Field(default="published", sa_column=Column(String(10), nullable=False))
    author_id: str = Field(sa_column=Column(String(200), nullable=False))
    view_count: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    helpful_count: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    not_helpful_count: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    version: int = Field(default=1, nullable=False)


# Kept by a trigger on PostgreSQL (see the migration) and never mapped: the ORM neither reads
# nor writes it. On SQLite it stays empty; search there uses the FTS5 table instead.
search_vector = Column("search_vector", TSVECTOR().with_variant(Text(), "sqlite"), nullable=True)
table_of(KbArticle).append_column(search_vector)
Index("ix_kb_articles_search_vector", search_vector, postgresql_using="gin")._set_parent(table_of(KbArticle))


class KbArticleTicket(Base, table=True):
    """An article that solved a ticket."""

    __tablename__ = "kb_article_tickets"
    __table_args__ = (Index("ix_kb_article_tickets_ticket_id", "ticket_id"),)

    article_id: uuid.UUID = Field(sa_column=Column(ForeignKey("kb_articles.id"), primary_key=True))
    ticket_id: uuid.UUID = Field(sa_column=Column(ForeignKey("tickets.id"), primary_key=True))
    linked_by: str = Field(sa_column=Column(String(200), nullable=False))
    linked_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
