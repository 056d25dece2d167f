"""Refresh tokens: opaque, stored hashed, rotated on every use, a reused one revokes its family."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_gateway.models import RefreshToken
from tessera_shared.db import affected_rows, utcnow


class InvalidRefreshToken(Exception):
    pass


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(session: AsyncSession, subject: str, ttl: timedelta, family_id: uuid.UUID | None = None) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_hash=_hash(token), family_id=family_id or uuid.uuid4(), subject=subject, expires_at=utcnow() + ttl
        )
    )
    await session.flush()
    return token


async def rotate(session: AsyncSession, token: str, ttl: timedelta) -> tuple[str, str, uuid.UUID]:
    """Spend ``token``; returns (subject, its successor, the chain's family id). Raises InvalidRefreshToken."""
    row = await session.get(RefreshToken, _hash(token), with_for_update=True)
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise InvalidRefreshToken("unknown, revoked or expired refresh token")
    if row.used_at is not None:
        # A spent token came back: someone else holds the chain. End it for everyone.
        await session.execute(
            update(RefreshToken).where(col(RefreshToken.family_id) == row.family_id).values(revoked_at=now)
        )
        raise InvalidRefreshToken("refresh token reused; the session has been revoked")
    row.used_at = now
    successor = await issue(session, row.subject, ttl, family_id=row.family_id)
    return row.subject, successor, row.family_id


async def revoke_family(session: AsyncSession, family_id: uuid.UUID, subject: str | None = None) -> int:
    """End a refresh chain (logout); with ``subject``, only if it is that subject's."""
    stmt = update(RefreshToken).where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
    if subject is not None:
        stmt = stmt.where(col(RefreshToken.subject) == subject)
    return await affected_rows(session, stmt.values(revoked_at=utcnow())) or 0


async def family_of(session: AsyncSession, token: str) -> tuple[uuid.UUID, str] | None:
    row = await session.get(RefreshToken, _hash(token))
    return (row.family_id, row.subject) if row is not None else None
