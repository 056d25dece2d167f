"""Fresh, migrated databases per test, on PostgreSQL (cloned from a template) or SQLite (copied)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg

from tessera_shared.db import create_engine
from tessera_shared.migrations import upgrade_to_head


def _asyncpg_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://")


class DatabaseFactory:
    """Migrates one template per service once, then hands each test its own copy."""

    def __init__(self, pg_server_url: str, tmp_dir: Path) -> None:
        self._pg = pg_server_url.rstrip("/")
        self._tmp = tmp_dir
        self._templates: dict[tuple[str, str], str] = {}
        self._created: list[str] = []
        self.prefix = f"t{uuid.uuid4().hex[:6]}"

    def _pg_url(self, name: str) -> str:
        return f"{self._pg}/{name}"

    async def _create(self, name: str, template: str | None = None) -> str:
        conn = await asyncpg.connect(_asyncpg_dsn(self._pg_url("postgres")))
        try:
            # FILE_COPY copies the template's files (a checkpoint, cheap with fsync off) instead of
            # writing every page to the WAL: 14 vs 22-28 ms a clone, ~5 % of a service suite's CPU.
            clause = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
            await conn.execute(f'CREATE DATABASE "{name}"{clause}')
        finally:
            await conn.close()
        self._created.append(name)
        return self._pg_url(name)

    async def _template(self, service: str, backend: str, migrations: Path) -> str:
        key = (service, backend)
        if key not in self._templates:
            if backend == "postgres":
                url = await self._create(f"{self.prefix}_tpl_{service.replace('-', '_')}")
            else:
                path = self._tmp / f"tpl_{service}.db"
                url = f"sqlite+aiosqlite:///{path}"
            engine = create_engine(url)
            await upgrade_to_head(engine, migrations)
            await engine.dispose()
            self._templates[key] = url
        return self._templates[key]

    async def new(self, service: str, backend: str, migrations: Path) -> str:
        template = await self._template(service, backend, migrations)
        if backend == "postgres":
            name = f"{self.prefix}_{service.replace('-', '_')}_{uuid.uuid4().hex[:10]}"
            return await self._create(name, template=template.rsplit("/", 1)[1])
        src = Path(template.split("///", 1)[1])
        dst = self._tmp / f"{service}_{uuid.uuid4().hex[:10]}.db"
        shutil.copy(src, dst)
        return f"sqlite+aiosqlite:///{dst}"

    async def empty(self, backend: str) -> str:
        """A new database with nothing in it (for tests that create their own tables)."""
        if backend == "postgres":
            return await self._create(f"{self.prefix}_empty_{uuid.uuid4().hex[:10]}")
        return f"sqlite+aiosqlite:///{self._tmp / f'empty_{uuid.uuid4().hex[:10]}.db'}"

    async def drop_all(self) -> None:
        await drop_databases(self._pg, list(reversed(self._created)))

    def drop_all_detached(self) -> None:
        """Drop this session's databases from a process of their own that nobody waits for.

        At the end of a full run a worker holds several hundred databases and dropping them took
        45-58 s (measured per worker with TESSERA_TEST_TEARDOWN_LOG), time charged to the run
        although nothing is tested; the clean-up goes on after the worker has exited."""
        if not self._created:
            return
        subprocess.Popen(  # noqa: S603 - our own interpreter and module, our own database names
            [sys.executable, "-m", "tessera_shared.testing.databases", self._pg, *reversed(self._created)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._created = []


async def drop_databases(server_url: str, names: list[str], connections: int = 4) -> None:
    """``DROP DATABASE ... WITH (FORCE)`` of ``names`` on the server, over a few connections."""
    if not names:
        return
    pending = list(names)

    async def drop_some() -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(f"{server_url.rstrip('/')}/postgres"))
        try:
            while pending:
                await conn.execute(f'DROP DATABASE IF EXISTS "{pending.pop()}" WITH (FORCE)')
        finally:
            await conn.close()

    await asyncio.gather(*(drop_some() for _ in range(min(connections, len(names)))))


if __name__ == "__main__":
    asyncio.run(drop_databases(sys.argv[1], sys.argv[2:]))
