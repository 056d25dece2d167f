"""Revoking access tokens before they expire: ``POST /auth/logout``, ``POST /auth/revoke``
(RFC 7009) and the feed every service follows, ``GET /auth/revocations``.

A revoked token's ``jti`` is stored in ``revoked_tokens`` (the gateway's database) until the
token would have expired. This replica refuses it at once; the other gateway replicas read
the table and every service process reads the feed every 2 s (tessera_shared.revocation).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_gateway.auth import refresh
from tessera_gateway.models import RevokedToken
from tessera_shared.auth import ALL_ROLES, Principal, public, require_roles
from tessera_shared.db import read_session, utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.errors import InvalidInput
from tessera_shared.feeds import polling
from tessera_shared.http.errors import Problem
from tessera_shared.http.inputs import IsoDatetime
from tessera_shared.revocation import RevocationPoller

router = APIRouter(tags=["auth"])

# Rows are kept this long past their token's expiry (the services' clock skew allowance and more).
PURGE_AFTER = timedelta(hours=1)


class RevocationOut(BaseModel):
    jti: str
    expires_at: datetime


class RevocationFeedOut(BaseModel):
    items: list[RevocationOut]
    now: datetime


async def revoke_access_token(request: Request, session: AsyncSession, principal: Principal) -> None:
    if principal.jti is None or principal.expires_at is None:
        return
    if await session.get(RevokedToken, principal.jti) is None:
        session.add(
            RevokedToken(
                jti=principal.jti,
                subject=principal.subject,
                expires_at=datetime.fromtimestamp(principal.expires_at, UTC),
            )
        )
        await session.flush()
    request.app.state.revoked_tokens.add(principal.jti, principal.expires_at)  # this replica at once


@router.post(
    "/auth/logout",
    status_code=204,
    summary="Log out: revoke this access token and its refresh chain",
    description="The access token (its `jti`) is refused by every service within seconds "
    "(401 `token-revoked`), and the refresh token chain it was issued with can no longer be used.",
    responses={204: {"description": "revoked"}},
)
async def logout(
    request: Request, session: SessionDep, principal: Annotated[Principal, require_roles(*ALL_ROLES)]
) -> Response:
    await revoke_access_token(request, session, principal)
    if principal.session is not None:
        with contextlib.suppress(ValueError):
            await refresh.revoke_family(session, uuid.UUID(principal.session), principal.subject)
    return Response(status_code=204)


@router.post(
    "/auth/revoke",
    summary="Revoke a token (RFC 7009): an access token or a refresh token",
    description="Form fields `token` and optionally `token_type_hint` (`access_token` or "
    "`refresh_token`). Holding the token is the proof: no other credential is needed. Answers 200 "
    "whether or not the token was known (RFC 7009 §2.2). Revoking a refresh token ends its chain; "
    "revoking an access token also ends the chain it was issued with.",
    response_class=Response,
    responses={200: {"description": "revoked, or unknown (no body)"}},
    openapi_extra=public("holding the token is the proof (RFC 7009)"),
)
async def revoke(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(min_length=1, max_length=8192)],
    token_type_hint: Annotated[str | None, Form(max_length=50)] = None,
) -> Response:
    if token.count(".") == 2:  # a JWT: ours if it verifies (an expired one needs no revoking)
        try:
            principal = request.app.state.token_codec.verify(token)
        except Problem:
            principal = None
        if principal is not None:
            await revoke_access_token(request, session, principal)
            if principal.session is not None:
                with contextlib.suppress(ValueError):
                    await refresh.revoke_family(session, uuid.UUID(principal.session), principal.subject)
            return Response(status_code=200)
    if len(token) <= 200 and (found := await refresh.family_of(session, token)) is not None:
        await refresh.revoke_family(session, found[0])
    return Response(status_code=200)


@router.get(
    "/auth/revocations",
    response_model=RevocationFeedOut,
    summary="Access tokens revoked and not yet expired (what every service refuses)",
    description="Followed by every service process every 2 s. `since` (RFC 3339) limits the list "
    "to what was revoked from then on; ask again with the previous answer's `now` (minus a little "
    "overlap). Lists only token ids (`jti`) of tokens that no longer work, nothing about who held "
    "them, so it needs no credential.",
    openapi_extra=public("lists only the ids of tokens that no longer work"),
)
async def revocations(
    request: Request,
    since: Annotated[IsoDatetime | None, Query(description="RFC 3339; only what was revoked from then on")] = None,
) -> RevocationFeedOut:
    if since is not None and since.tzinfo is None:
        raise InvalidInput("since", "must carry a time zone (e.g. 2026-01-01T00:00:00Z)", "query")
    now = utcnow()
    async with read_session(request.app.state.runtime.sessions) as session:
        items = await _revoked_since(session, since, now)
    return RevocationFeedOut(items=[RevocationOut(jti=j, expires_at=e) for j, e in items], now=now)


async def _revoked_since(session: AsyncSession, since: datetime | None, now: datetime) -> list[tuple[str, datetime]]:
    stmt = select(col(RevokedToken.jti), col(RevokedToken.expires_at)).where(col(RevokedToken.expires_at) > now)
    if since is not None:
        stmt = stmt.where(col(RevokedToken.revoked_at) >= since)
    return [(j, e) for j, e in (await session.execute(stmt)).all()]


@contextlib.asynccontextmanager
async def follow_revocations(app: FastAPI) -> AsyncIterator[None]:
    """This gateway replica reads the table itself (the services read the feed)."""
    sessions = app.state.runtime.sessions
    cycles = 0

    async def fetch(since: datetime | None) -> tuple[list[tuple[str, float]], datetime]:
        nonlocal cycles
        now = utcnow()
        cycles += 1
        if cycles % 900 == 1:  # about every half hour: rows whose tokens expired long ago
            async with sessions() as session, session.begin():
                await session.execute(delete(RevokedToken).where(col(RevokedToken.expires_at) < now - PURGE_AFTER))
        async with read_session(sessions) as session:
            rows = await _revoked_since(session, since, now)
        return [(j, e.timestamp()) for j, e in rows], now

    settings: Any = app.state.settings
    poller = RevocationPoller(
        app.state.revoked_tokens, fetch, settings.token_revocations_poll_seconds, source="the gateway's database"
    )
    async with polling(poller):
        yield
