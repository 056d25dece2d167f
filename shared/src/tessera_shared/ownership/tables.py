"""The ``ownership_transfers`` table, added to a service's own metadata by the services that own records.

One row per requested share of a transfer: who to whom, which resources, its state, and the
records moved so far per resource. ``attempt`` fences a run: a job taken over from a stalled
replica runs again with the next attempt, and the stalled run's batches (which name the old
attempt) are refused and rolled back. ``counts`` are written in the same transaction as the
records of each batch, so a run taken over resumes where the last committed batch left it.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table, Text, Uuid

from tessera_shared.db import JSONType, UTCDateTime

TABLE = "ownership_transfers"


def ownership_table(metadata: MetaData) -> Table:
    jobs = Table(
        TABLE,
        metadata,
        Column("id", Uuid(), primary_key=True),
        Column("from_user", String(200), nullable=False),
        Column("to_user", String(200), nullable=False),
        Column("resources", JSONType, nullable=False),
        Column("only_open", Boolean(), nullable=False),
        Column("requested_by", String(200), nullable=False),
        Column("status", String(20), nullable=False),
        Column("attempt", Integer(), nullable=False, server_default="0"),
        Column("counts", JSONType, nullable=False),
        Column("error", Text(), nullable=True),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("started_at", UTCDateTime(), nullable=True),
        Column("finished_at", UTCDateTime(), nullable=True),
    )
    Index("ix_ownership_transfers_status_created_at", jobs.c.status, jobs.c.created_at)
    return jobs
