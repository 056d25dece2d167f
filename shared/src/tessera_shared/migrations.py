"""Alembic migrations per service, applied on start (one migrator at a time on PostgreSQL)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command, context, op
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from tessera_shared import infra_tables

_MIGRATION_LOCK_ID = 0x7E55E2B


def alembic_config(script_location: Path, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


@functools.cache
def _heads(script_location: Path) -> frozenset[str]:
    """The head revisions of a service's migrations, read once per process (alembic loads every
    revision file to find them: ~6 ms of CPU each time a database is checked)."""
    return frozenset(ScriptDirectory.from_config(alembic_config(script_location)).get_heads())


async def upgrade_to_head(engine: AsyncEngine, script_location: Path) -> None:
    def _upgrade(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            # A migration (or the wait for another replica's) may take longer than the sessions'
            # statement timeout (tessera_shared.db.SessionLimits): not this transaction's.
            connection.execute(text("SET LOCAL statement_timeout = 0"))
            connection.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
            # Replicas starting together take turns; the second finds nothing to do.
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        if set(MigrationContext.configure(connection).get_current_heads()) == _heads(script_location):
            return  # at head: a restart, or a test's database cloned from a migrated template
        cfg = alembic_config(script_location)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")

    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


@contextmanager
def referring_rows_kept(parent: str) -> Iterator[None]:
    """Around a batch operation that recreates ``parent`` on SQLite (copy, drop, rename): the rows
    of every table referring to it, directly or not, are copied before and put back after.

    The services' connections turn SQLite's foreign keys on, so dropping ``parent`` deletes the
    rows referring to it, cascading (a deal's lines and stage history). PostgreSQL alters tables
    in place: nothing is copied there.
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    inspector = inspect(bind)
    tables = inspector.get_table_names()
    refers = {t: {fk["referred_table"] for fk in inspector.get_foreign_keys(t)} for t in tables}
    order: list[str] = []  # parents first
    parents = {parent}
    while found := [t for t in tables if t not in order and t not in parents and refers[t] & parents]:
        order += found
        parents |= set(found)
    # The names come from the database's own catalogue, not from input.
    for table in order:
        op.execute(f'CREATE TEMP TABLE "_kept_{table}" AS SELECT * FROM "{table}"')  # noqa: S608
    yield
    for table in order:
        op.execute(f'INSERT OR IGNORE INTO "{table}" SELECT * FROM "_kept_{table}"')  # noqa: S608
        op.execute(f'DROP TABLE "_kept_{table}"')


def run_env(service_metadata: MetaData) -> None:
    """The body of every service's ``env.py``: its own tables plus outbox, inbox and keys."""
    target = [service_metadata, infra_tables.metadata]
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is None:
        # Offline or CLI use (e.g. autogenerate): connect with the configured URL.
        url = context.config.get_main_option("sqlalchemy.url")
        engine = create_engine(url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg") if url else "sqlite://")
        with engine.begin() as conn:
            _configure_and_run(conn, target)
        return
    _configure_and_run(connection, target)


def _configure_and_run(connection: Connection, target: list[MetaData]) -> None:
    context.configure(
        connection=connection,
        target_metadata=target,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
        user_module_prefix="tessera_shared.db.",
    )
    with context.begin_transaction():
        context.run_migrations()
