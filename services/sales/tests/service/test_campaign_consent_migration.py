"""Migration 86d66ac15602: existing customer members start suspended for want of known consent, and a
consent announced later makes them active (docs/domain.md §10.4), on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

import tessera_sales.main as sales_main
from tessera_shared.db import UTCDateTime, create_engine
from tessera_shared.migrations import alembic_config
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of

T0 = datetime(2026, 2, 1, tzinfo=UTC)


def migrate(conn: Connection, revision: str) -> None:
    cfg = alembic_config(migrations_of(sales_main.__file__))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


@pytest.mark.sqlite
async def test_existing_customer_members_start_suspended(databases: DatabaseFactory, backend: str) -> None:
    campaign, customer, lead = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    campaigns = sa.table(
        "campaigns",
        sa.column("id", sa.Uuid()),
        *(sa.column(n) for n in ("name", "channel", "budget", "currency", "starts_on", "created_by")),
        sa.column("created_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
        sa.column("version"),
    )
    # The table as it was before the migration, and after.
    old_members = sa.table(
        "campaign_members",
        *(sa.column(n) for n in ("member_type", "added_by")),
        sa.column("campaign_id", sa.Uuid()),
        sa.column("member_id", sa.Uuid()),
        sa.column("added_at", UTCDateTime()),
    )
    members = sa.table(
        "campaign_members",
        *(sa.column(n) for n in ("member_type", "status", "status_reason")),
    )

    def steps(conn: Connection) -> dict[str, tuple[str, str | None]]:
        migrate(conn, "c34c3426e5ad")
        conn.execute(
            sa.insert(campaigns).values(
                id=campaign,
                name="Old",
                channel="email",
                budget="10.00",
                currency="EUR",
                starts_on=date(2026, 1, 1),
                created_by="mgr",
                created_at=T0,
                updated_at=T0,
                version=1,
            )
        )
        for member_type, member_id in (("customer", customer), ("lead", lead)):
            conn.execute(
                sa.insert(old_members).values(
                    campaign_id=campaign, member_type=member_type, member_id=member_id, added_by="mgr", added_at=T0
                )
            )
        migrate(conn, "86d66ac15602")
        rows = conn.execute(sa.select(members.c.member_type, members.c.status, members.c.status_reason)).all()
        return {r.member_type: (r.status, r.status_reason) for r in rows}

    engine = create_engine(await databases.empty(backend))
    try:
        async with engine.begin() as conn:
            after = await conn.run_sync(steps)
    finally:
        await engine.dispose()
    assert after == {"customer": ("suspended", "no_consent"), "lead": ("active", None)}
