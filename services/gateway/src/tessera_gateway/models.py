"""The gateway's own tables: refresh tokens, revoked tokens, rate counters, the audit log of
personal-data reads, and API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Integer, String
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from tessera_shared.db import JSONType, UTCDateTime, new_id, new_metadata, utcnow


class Base(SQLModel, registry=registry(metadata=new_metadata())):
    """The base of the gateway's tables: a registry of its own, so its metadata holds only them."""


metadata = Base.metadata


class RefreshToken(Base, table=True):
    """One refresh token (stored hashed). Rotation chains tokens into a family; reusing a
    spent token revokes the whole family (the token was stolen or replayed)."""

    __tablename__ = "refresh_tokens"

    token_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    family_id: uuid.UUID = Field(index=True)
    subject: str = Field(sa_column=Column(String(200), nullable=False))
    issued_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class RevokedToken(Base, table=True):
    """An access token revoked before it expires (logout, RFC 7009 revocation), by its ``jti``.
    Every service process refuses it once its revocation list has caught up (a couple of
    seconds); rows are purged once the token would have expired anyway."""

    __tablename__ = "revoked_tokens"
    __table_args__ = (Index("ix_revoked_tokens_revoked_at", "revoked_at"),)

    jti: str = Field(sa_column=Column(String(64), primary_key=True))
    subject: str = Field(sa_column=Column(String(200), nullable=False))
    revoked_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RateCounter(Base, table=True):
    """Requests (or failed logins) of one key in one slice of a sliding window, shared by every
    gateway replica (limits/store.py). ``start`` and ``expires`` are epoch milliseconds; a row
    counts until ``expires`` and is purged after it."""

    __tablename__ = "rate_counters"
    __table_args__ = (Index("ix_rate_counters_expires", "expires"),)

    key: str = Field(sa_column=Column(String(300), primary_key=True))
    start: int = Field(sa_column=Column(BigInteger(), primary_key=True, autoincrement=False))
    n: int = Field(sa_column=Column(Integer(), nullable=False))
    expires: int = Field(sa_column=Column(BigInteger(), nullable=False))


class AuditEntry(Base, table=True):
    """A read of personal data through the gateway: who, what, when, with what result."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_subject_id", "subject", "id"),
        Index("ix_audit_log_customer_id_id", "customer_id", "id"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    subject: str = Field(sa_column=Column(String(200), nullable=False))
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    method: str = Field(sa_column=Column(String(10), nullable=False))
    path: str = Field(sa_column=Column(String(500), nullable=False))
    customer_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    status: int
    request_id: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    # The caller's name when it is not the subject itself: an API key's name (subject "apikey:<id>").
    subject_name: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))


class ApiKey(Base, table=True):
    """A server-to-server credential (tessera_gateway.apikeys): the key's SHA-256, never the key.
    ``changed_at`` moves at creation and revocation: every gateway replica reads what changed
    since its last look, every second."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_changed_at", "changed_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    key_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    # The key's first characters ("tsk_" and 4 more), to tell keys apart in a list.
    prefix: str = Field(sa_column=Column(String(16), nullable=False))
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    # Requests per minute through the gateway (null: the gateway's rate_limit_per_minute).
    rate_limit_per_minute: int | None = Field(default=None, sa_column=Column(Integer(), nullable=True))
    created_by: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    revoked_by: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    last_used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    changed_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Team(Base, table=True):
    """A team of staff (tessera_gateway.teams): a lead, members and territories. The lead sees and
    changes the members' records (the owner rules' team level). ``members`` includes the lead."""

    __tablename__ = "teams"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    key: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(String(2000), nullable=True))
    lead: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    members: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    # [{"country": "DE" | null, "region": "Bavaria" | null}, ...]
    territories: list[dict[str, str | None]] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer(), nullable=False))
    created_by: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
