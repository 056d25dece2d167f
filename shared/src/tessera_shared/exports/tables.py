"""The export tables, added to a service's own metadata by the services that export.

``export_jobs``: one row per requested export (what, for whom, its state and progress).
``export_chunks``: the file itself, in pieces of about ``CHUNK_BYTES`` in order, in the service's
own database: every replica reads a file any replica wrote, with no shared volume to provision,
and expiry is a DELETE. ``attempt`` fences a run: a job taken over from a stalled replica is run
again with the next attempt, and the stalled run's writes (which name the old one) change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Table, Text, Uuid

from tessera_shared.db import JSONType, UTCDateTime


@dataclass(frozen=True)
class ExportTables:
    jobs: Table
    chunks: Table


def export_tables(metadata: MetaData) -> ExportTables:
    jobs = Table(
        "export_jobs",
        metadata,
        Column("id", Uuid(), primary_key=True),
        Column("resource", String(40), nullable=False),
        Column("format", String(10), nullable=False),
        Column("fields", JSONType, nullable=False),
        Column("filter_groups", JSONType, nullable=False),
        # The rows the requester may see, fixed when asked (e.g. {"owner_id": "rep-1"}).
        Column("scope", JSONType, nullable=False),
        Column("requested_by", String(200), nullable=False),
        Column("status", String(20), nullable=False),
        Column("attempt", Integer(), nullable=False, server_default="0"),
        Column("rows_total", BigInteger(), nullable=True),
        Column("rows_written", BigInteger(), nullable=False, server_default="0"),
        Column("bytes_written", BigInteger(), nullable=False, server_default="0"),
        Column("error", Text(), nullable=True),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("started_at", UTCDateTime(), nullable=True),
        Column("finished_at", UTCDateTime(), nullable=True),
        Column("expires_at", UTCDateTime(), nullable=True),
    )
    Index("ix_export_jobs_status_created_at", jobs.c.status, jobs.c.created_at)
    chunks = Table(
        "export_chunks",
        metadata,
        Column("job_id", Uuid(), ForeignKey("export_jobs.id", ondelete="CASCADE"), primary_key=True),
        Column("seq", Integer(), primary_key=True),
        Column("data", LargeBinary(), nullable=False),
    )
    return ExportTables(jobs, chunks)
