"""A scratch PostgreSQL database migrated with one service's migrations, for the job benches."""

from __future__ import annotations

import contextlib
import importlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg


@dataclass
class Scratch:
    url: str  # SQLAlchemy URL of the scratch database
    dsn: str  # the same for asyncpg


@contextlib.asynccontextmanager
async def scratch_database(pg_url: str, service: str, name: str | None = None) -> AsyncIterator[Scratch]:
    """A database migrated with ``service``'s migrations, dropped on the way out."""
    from tessera_shared.db import create_engine
    from tessera_shared.migrations import upgrade_to_head
    from tessera_shared.testing.plugin import migrations_of

    main = importlib.import_module(f"tessera_{service.replace('-', '_')}.main")
    pg_url = pg_url.rstrip("/")
    raw = pg_url.replace("+asyncpg", "")
    name = name or f"bench_{service.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{raw}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        engine = create_engine(f"{pg_url}/{name}")
        try:
            await upgrade_to_head(engine, migrations_of(main.__file__))
        finally:
            await engine.dispose()
        yield Scratch(f"{pg_url}/{name}", f"{raw}/{name}")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
