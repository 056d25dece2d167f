"""Every service's migrations build exactly the schema its models declare, on both databases."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from tessera_shared import infra_tables
from tessera_shared.db import create_engine
from tessera_shared.migrations import alembic_config, upgrade_to_head
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of

# Dialect branches: these run on both databases.
pytestmark = pytest.mark.sqlite

SERVICES = ["customer", "sales", "service-desk", "billing", "notifications", "gateway"]


def service_parts(service: str) -> tuple[Path, MetaData]:
    module = f"tessera_{service.replace('-', '_')}"
    main = importlib.import_module(f"{module}.main")
    models = importlib.import_module(f"{module}.models")
    return migrations_of(main.__file__), models.metadata


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_match_models_and_downgrade(databases: DatabaseFactory, backend: str, service: str) -> None:
    migrations, metadata = service_parts(service)
    url = await databases.empty(backend)
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine, migrations)
        await upgrade_to_head(engine, migrations)  # a second start finds nothing to do

        def diff(conn):
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            # alembic compares a sequence of MetaData too; its annotation names one.
            return compare_metadata(ctx, [metadata, infra_tables.metadata])  # type: ignore[arg-type]

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []

        def down_and_up(conn):
            cfg = alembic_config(migrations)
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
            command.upgrade(cfg, "head")

        async with engine.begin() as conn:
            await conn.run_sync(down_and_up)
    finally:
        await engine.dispose()


async def test_a_database_at_head_is_not_handed_to_alembic(
    databases: DatabaseFactory, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrations, _ = service_parts("sales")
    url = await databases.new("sales", backend, migrations)  # cloned from a migrated template
    engine = create_engine(url)

    def upgrade(*_: object, **__: object) -> None:
        raise AssertionError("alembic was asked to upgrade a database at head")

    monkeypatch.setattr(command, "upgrade", upgrade)
    try:
        await upgrade_to_head(engine, migrations)
        async with engine.connect() as conn:
            heads = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
        assert heads  # at head, and left there
    finally:
        await engine.dispose()
