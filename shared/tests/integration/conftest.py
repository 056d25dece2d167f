from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

import pytest
from sqlalchemy import Column, Integer, String, Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_shared import infra_tables
from tessera_shared.db import create_engine, new_metadata, session_factory
from tessera_shared.events.envelope import EventData
from tessera_shared.kafka import contract_topics, ensure_topics
from tessera_shared.testing.databases import DatabaseFactory

effects_metadata = new_metadata()
# One row per applied effect: a duplicate effect would show as a second row.
effects = Table(
    "effects",
    effects_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ping_no", Integer, nullable=False),
    Column("label", String(50), nullable=False),
)


class Ping(EventData):
    """A test-only fact, published as if by the customer service."""

    event_type: ClassVar[str] = "test.ping"
    producer: ClassVar[str] = "customer"

    ping_no: int
    label: str = "ping"
    fail: bool = False


def url_of(sessions: async_sessionmaker[AsyncSession]) -> str:
    return str(sessions.kw["bind"].url.render_as_string(hide_password=False))


@pytest.fixture
async def other_replica(sessions) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A second engine on the same database: another replica's pool."""
    engine = create_engine(url_of(sessions))
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def sessions(databases: DatabaseFactory, backend: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = await databases.empty(backend)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(infra_tables.metadata.create_all)
        await conn.run_sync(effects_metadata.create_all)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def topics(kafka_bootstrap: str, namespace: str) -> str:
    await ensure_topics(kafka_bootstrap, contract_topics(namespace), partitions=3)
    return namespace
