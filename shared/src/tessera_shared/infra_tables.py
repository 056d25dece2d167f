"""Tables every service's database holds beside its own: outbox, inbox, idempotency keys, leases.

They live in one metadata of their own that each service's migrations include, so the
outbox relay and the consumer runner can use the same statements in every service.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Identity, Index, Integer, String, Table, Text, Uuid

from tessera_shared.db import JSONType, UTCDateTime, new_metadata

metadata = new_metadata()

outbox = Table(
    "outbox_events",
    metadata,
    # The publication order; per-key order on Kafka follows it.
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), Identity(), primary_key=True),
    Column("event_id", Uuid(), nullable=False, unique=True),
    Column("topic", String(200), nullable=False),
    Column("key", String(200), nullable=True),
    Column("event_type", String(120), nullable=False),
    Column("envelope", Text(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("last_error", Text(), nullable=True),
)
Index(
    "ix_outbox_events_unsent",
    outbox.c.seq,
    postgresql_where=outbox.c.sent_at.is_(None),
    sqlite_where=outbox.c.sent_at.is_(None),
)

inbox = Table(
    "inbox_events",
    metadata,
    # Deduplication is by (source, id), as CloudEvents defines an event's identity.
    Column("source", String(200), primary_key=True),
    Column("event_id", String(200), primary_key=True),
    Column("event_type", String(120), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("partition", Integer(), nullable=False),
    Column("offset", BigInteger(), nullable=False),
    Column("processed_at", UTCDateTime(), nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("principal", String(200), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("method", String(10), nullable=False),
    Column("path", String(500), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer(), nullable=True),
    Column("response_body", JSONType, nullable=True),
    Column("response_headers", JSONType, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

# Leadership of one named piece of work (the outbox relay, each scheduled job) across the
# replicas: held until ``expires_at`` (the database's clock) unless renewed; ``token`` grows at
# every change of holder, the fencing token a holder's writes are checked against
# (tessera_shared.leases). ``done_at``: when a holder last reported the work done (jobs' rounds).
leases = Table(
    "leases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("token", BigInteger(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("done_at", UTCDateTime(), nullable=True),
)
