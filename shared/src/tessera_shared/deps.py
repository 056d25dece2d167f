"""Request-scoped dependencies: one database session per request, committed once at the edge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_shared.db import unit_of_work


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with unit_of_work(request.app.state.runtime.sessions) as session:
        yield session


# scope="function": the commit happens before the response is sent, so a failed commit
# can never follow a success response.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
