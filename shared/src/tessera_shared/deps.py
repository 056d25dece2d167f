"""Request-scoped dependencies: one database session per request, committed once at the edge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_shared.db import read_session, unit_of_work

# Reads run without a transaction round trip; a safe method that writes would be a bug (the
# read session refuses it loudly).
_READS = frozenset({"GET", "HEAD"})


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    sessions = request.app.state.runtime.sessions
    if request.method in _READS:
        async with read_session(sessions) as session:
            yield session
        return
    async with unit_of_work(sessions) as session:
        yield session


async def _read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with read_session(request.app.state.runtime.sessions) as session:
        yield session


async def _write_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with unit_of_work(request.app.state.runtime.sessions) as session:
        yield session


# scope="function": the commit happens before the response is sent, so a failed commit
# can never follow a success response.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
# For the rare safe-method route that writes by design (e.g. counting an article's views).
WriteSessionDep = Annotated[AsyncSession, Depends(_write_session, scope="function")]
# For a POST that only reads (a search: its query is a body): the reads' session, no BEGIN and
# COMMIT round trips (two of a search's three on PostgreSQL).
ReadSessionDep = Annotated[AsyncSession, Depends(_read_session, scope="function")]
