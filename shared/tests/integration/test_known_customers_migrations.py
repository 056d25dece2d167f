"""The services' known-customers migrations keep an existing database's rows (both databases):
sales' merge pointer is renamed with its values, the erased markers are normalised, billing's new
copy starts from the customers its credit profiles name; the downgrades give the old shapes back."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from tessera_shared.db import Money, UTCDateTime, create_engine
from tessera_shared.migrations import alembic_config
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of

# Dialect branches (batch alters, the normalising UPDATEs): these run on both databases.
pytestmark = pytest.mark.sqlite

T0 = datetime(2026, 2, 1, tzinfo=UTC)


def migrate(conn: Connection, service: str, revision: str, *, down: bool = False) -> None:
    main = importlib.import_module(f"tessera_{service.replace('-', '_')}.main")
    cfg = alembic_config(migrations_of(main.__file__))
    cfg.attributes["connection"] = conn
    (command.downgrade if down else command.upgrade)(cfg, revision)


def table(name: str, columns: Mapping[str, Any]) -> sa.TableClause:
    return sa.table(name, *(sa.column(n, t) for n, t in columns.items()))


def rows(conn: Connection, table: sa.TableClause, key: str = "customer_id") -> dict[uuid.UUID, sa.RowMapping]:
    return {r[key]: r for r in conn.execute(sa.select(table)).mappings()}


async def run(databases: DatabaseFactory, backend: str, steps: Any) -> None:
    engine = create_engine(await databases.empty(backend))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(steps)
    finally:
        await engine.dispose()


async def test_sales_keeps_its_rows(databases: DatabaseFactory, backend: str) -> None:
    plain, merged, erased, erased_unknown = (uuid.uuid4() for _ in range(4))
    columns = {
        "customer_id": sa.Uuid(),
        "name": sa.String(),
        "owner_id": sa.String(),
        "status": sa.String(),
        "erased_at": UTCDateTime(),
        "version": sa.Integer(),
        "updated_at": UTCDateTime(),
    }
    before = table("known_customers", {**columns, "merged_into_id": sa.Uuid()})
    after = table("known_customers", {**columns, "merged_into": sa.Uuid(), "tier": sa.String()})

    def steps(conn: Connection) -> None:
        migrate(conn, "sales", "ffee5401aead")
        common = {"owner_id": "rep1", "merged_into_id": None, "erased_at": None, "version": 1, "updated_at": T0}
        conn.execute(
            sa.insert(before),
            [
                {**common, "customer_id": plain, "name": "Acme", "status": "prospect", "version": 3},
                {**common, "customer_id": merged, "name": "[erased]", "status": "merged", "merged_into_id": plain},
                {**common, "customer_id": erased, "name": "[erased]", "status": "loyal", "erased_at": T0},
                {**common, "customer_id": erased_unknown, "name": "[erased]", "status": "erased", "erased_at": T0},
            ],
        )
        migrate(conn, "sales", "head")
        got = rows(conn, after)
        assert {k: (r["name"], r["status"], r["merged_into"], r["tier"]) for k, r in got.items()} == {
            plain: ("Acme", "prospect", None, "ordinary"),
            merged: ("", None, plain, "ordinary"),
            erased: ("[erased]", "loyal", None, "ordinary"),
            erased_unknown: ("[erased]", None, None, "ordinary"),
        }
        assert (got[plain]["owner_id"], got[plain]["version"], got[plain]["updated_at"]) == ("rep1", 3, T0)
        assert got[erased]["erased_at"] == T0
        migrate(conn, "sales", "ffee5401aead", down=True)
        old = rows(conn, before)
        assert {k: (r["name"], r["status"], r["merged_into_id"]) for k, r in old.items()} == {
            plain: ("Acme", "prospect", None),
            merged: ("[erased]", "merged", plain),
            erased: ("[erased]", "loyal", None),
            erased_unknown: ("[erased]", "erased", None),
        }

    await run(databases, backend, steps)


async def test_the_desk_keeps_its_rows(databases: DatabaseFactory, backend: str) -> None:
    key, erased, early = (uuid.uuid4() for _ in range(3))
    columns = {
        "customer_id": sa.Uuid(),
        "name": sa.String(),
        "tier": sa.String(),
        "updated_at": UTCDateTime(),
        "service_level": sa.String(),
        "tier_changed_at": UTCDateTime(),
        "merged_into": sa.Uuid(),
        "erased_at": UTCDateTime(),
    }
    before = table("known_customers", columns)
    after = table(
        "known_customers", {**columns, "owner_id": sa.String(), "status": sa.String(), "version": sa.Integer()}
    )

    def steps(conn: Connection) -> None:
        migrate(conn, "service-desk", "7ab1500f93ba")
        common = {"updated_at": T0, "tier_changed_at": None, "merged_into": None, "erased_at": None}
        conn.execute(
            sa.insert(before),
            [
                {**common, "customer_id": key, "name": "Acme", "tier": "key", "service_level": "premium"},
                {**common, "customer_id": erased, "name": "", "tier": "ordinary", "service_level": "standard"},
                {**common, "customer_id": early, "name": "", "tier": "small", "service_level": "standard"},
            ],
        )
        conn.execute(sa.update(before).where(before.c.customer_id == erased).values(erased_at=T0))
        migrate(conn, "service-desk", "head")
        got = rows(conn, after)
        assert {
            k: (r["name"], r["tier"], r["service_level"], r["owner_id"], r["status"], r["version"])
            for k, r in got.items()
        } == {
            key: ("Acme", "key", "premium", None, None, 1),
            erased: ("[erased]", "ordinary", "standard", None, None, 1),
            early: ("", "small", "standard", None, None, 1),
        }
        migrate(conn, "service-desk", "7ab1500f93ba", down=True)
        assert {k: r["name"] for k, r in rows(conn, before).items()} == {key: "Acme", erased: "", early: ""}

    await run(databases, backend, steps)


async def test_billing_starts_its_copy_from_the_named_credit_profiles(databases: DatabaseFactory, backend: str) -> None:
    named, unnamed = uuid.uuid4(), uuid.uuid4()
    profiles = sa.table(
        "credit_profiles",
        sa.column("customer_id", sa.Uuid()),
        sa.column("customer_name", sa.String()),
        sa.column("rating", sa.String()),
        sa.column("credit_limit", Money()),
        sa.column("currency", sa.String()),
        sa.column("payment_terms_days", sa.Integer()),
        sa.column("created_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
        sa.column("version", sa.Integer()),
    )
    known = sa.table(
        "known_customers",
        sa.column("customer_id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("status", sa.String()),
        sa.column("tier", sa.String()),
        sa.column("version", sa.Integer()),
        sa.column("updated_at", UTCDateTime()),
        sa.column("merged_into", sa.Uuid()),
        sa.column("erased_at", UTCDateTime()),
    )

    def steps(conn: Connection) -> None:
        migrate(conn, "billing", "6cd4062900de")
        common = {
            "rating": "B",
            "credit_limit": Decimal("5000"),
            "currency": "EUR",
            "payment_terms_days": 30,
            "created_at": T0,
            "updated_at": T0,
            "version": 2,
        }
        conn.execute(
            sa.insert(profiles),
            [
                {**common, "customer_id": named, "customer_name": "Acme GmbH"},
                {**common, "customer_id": unnamed, "customer_name": None},  # made by a deal, or erased
            ],
        )
        migrate(conn, "billing", "head")
        got = rows(conn, known)
        assert list(got) == [named]
        r = got[named]
        assert (r["name"], r["status"], r["tier"], r["version"], r["updated_at"], r["merged_into"], r["erased_at"]) == (
            "Acme GmbH",
            None,
            "ordinary",
            1,
            T0,
            None,
            None,
        )
        assert len(rows(conn, profiles)) == 2
        migrate(conn, "billing", "6cd4062900de", down=True)
        assert "known_customers" not in sa.inspect(conn).get_table_names()

    await run(databases, backend, steps)
