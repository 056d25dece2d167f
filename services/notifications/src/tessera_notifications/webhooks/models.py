"""The webhooks tables: endpoints, deliveries (one per event and endpoint), attempts, replays."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, UniqueConstraint
from sqlmodel import Field

from tessera_notifications.models import Base
from tessera_shared.db import JSONType, UTCDateTime, new_id, utcnow

# A delivery's id is also its place in the order of events: ids grow in insertion order, and the
# consumer inserts one partition's events in their order (the Kafka key's order).
DeliveryId = BigInteger().with_variant(Integer(), "sqlite")


class WebhookEndpoint(Base, table=True):
    """A partner's (or an admin's) receiver: where, which event types, and the signing secrets."""

    __tablename__ = "webhook_endpoints"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # The principal's subject that created it (a partner client id, or an admin's user name).
    owner: str = Field(max_length=200, index=True)
    url: str = Field(max_length=2000)
    description: str | None = Field(default=None, max_length=500)
    event_types: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    ordered: bool = False
    # Whether deliveries carry personal data: true for an endpoint an admin created (the envelope
    # as Kafka carries it); false for a partner's (the contracts' personal fields nulled).
    personal_data: bool = False
    enabled: bool = True
    disabled_reason: str | None = Field(default=None, max_length=200)
    # whsec_<base64>; the previous one also signs until previous_secret_until (rotation).
    secret: str = Field(max_length=100)
    previous_secret: str | None = Field(default=None, max_length=100)
    previous_secret_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Since when every attempt has failed (cleared by a success); 5 days of it disable the endpoint.
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebhookDelivery(Base, table=True):
    """One event for one endpoint. ``webhook_id`` is fixed when the row is written (the same on
    every attempt); ``payload`` is the body sent: the CloudEvent as Kafka carries it, or redacted
    for an endpoint without ``personal_data`` (``deliveries.body_of``)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "webhook_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_key", "endpoint_id", "ordering_key", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(DeliveryId, primary_key=True, autoincrement=True))
    endpoint_id: uuid.UUID = Field(index=True)
    webhook_id: str = Field(max_length=100)
    event_id: str = Field(max_length=100)
    event_type: str = Field(max_length=100)
    # The Kafka key (the customer id): an ordered endpoint gets one key's deliveries one at a time.
    ordering_key: str | None = Field(default=None, max_length=200)
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    replay: bool = False
    replay_id: uuid.UUID | None = None
    # pending -> sending (claimed until claimed_until) -> delivered | failed; back to pending to retry.
    status: str = Field(default="pending", max_length=10)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookAttempt(Base, table=True):
    """One attempt of a delivery, written (committed) before the request is sent; its outcome
    after. An attempt without ``finished_at`` whose delivery was attempted again is a send whose
    outcome was never recorded (the process died)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "number"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    delivery_id: int = Field(sa_column=Column(DeliveryId, nullable=False, index=True))
    number: int
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status_code: int | None = None
    latency_ms: int | None = None
    # The first 1 KiB of the response body (decoded, invalid UTF-8 replaced).
    response_body: str | None = Field(default=None, max_length=1100)
    error: str | None = Field(default=None, max_length=500)


class WebhookReplay(Base, table=True):
    """A replay job: every matching event on the topics since ``since`` enqueued again."""

    __tablename__ = "webhook_replays"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    endpoint_id: uuid.UUID = Field(index=True)
    since: datetime = Field(sa_type=UTCDateTime)
    # running -> done | failed
    status: str = Field(default="running", max_length=10)
    enqueued: int = 0
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
