"""The migration steps that add the export tables (tessera_shared.exports.tables) to a service's database."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tessera_shared.db


def create_export_tables() -> None:
    """The migration that adds the export tables to a service's database."""
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("resource", sa.String(length=40), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("fields", tessera_shared.db.JSONType, nullable=False),
        sa.Column("filter_groups", tessera_shared.db.JSONType, nullable=False),
        sa.Column("scope", tessera_shared.db.JSONType, nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempt", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rows_total", sa.BigInteger(), nullable=True),
        sa.Column("rows_written", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("bytes_written", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", tessera_shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_jobs")),
    )
    op.create_index("ix_export_jobs_status_created_at", "export_jobs", ["status", "created_at"], unique=False)
    op.create_table(
        "export_chunks",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["export_jobs.id"], name=op.f("fk_export_chunks_job_id_export_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "seq", name=op.f("pk_export_chunks")),
    )


def drop_export_tables() -> None:
    op.drop_table("export_chunks")
    op.drop_index("ix_export_jobs_status_created_at", table_name="export_jobs")
    op.drop_table("export_jobs")
