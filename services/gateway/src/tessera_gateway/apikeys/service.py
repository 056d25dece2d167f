"""API keys: created and revoked by admins, stored hashed, published as facts for the services.

The gateway's table is the truth. Every gateway replica keeps the keys in memory
(``app.state.api_keys``, tessera_shared.api_keys.ApiKeys) and reads what changed every
``api_keys_poll_seconds`` (:func:`follow_api_keys_table`); the replica that revokes a key drops it
at once. The services learn keys from ``api_key.created`` / ``api_key.revoked``, published here
through the outbox in the same transaction as the row.

``last_used_at`` is written behind (:func:`flush_usage`): each request notes the time in memory
(a dict assignment); every ``api_key_usage_flush_seconds`` each replica writes one UPDATE per
key used since, never moving the time back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import FastAPI
from sqlalchemy import event, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from tessera_gateway.models import ApiKey
from tessera_shared.api_keys import ApiKeyEntry, ApiKeys, entry_of, hash_key, new_key, subject_of
from tessera_shared.auth import Principal, Role
from tessera_shared.db import read_session, utcnow
from tessera_shared.errors import InvalidInput, NotFound
from tessera_shared.events.contracts.gateway import ApiKeyCreated, ApiKeyRevoked
from tessera_shared.http.pagination import PageParams, paginate
from tessera_shared.outbox import publish

log = logging.getLogger(__name__)

# What a key may hold: any role but admin. A key is a long-lived secret kept in another system's
# configuration; administration (users, keys, the audit log) stays with people who log in.
KEY_ROLES = frozenset(Role) - {Role.ADMIN}
# A re-read overlaps the previous one by this much: a change committed late is still seen.
OVERLAP = timedelta(seconds=30)
PREFIX_LENGTH = 8  # "tsk_" and four characters, shown in lists to tell keys apart


def entry_of_row(row: ApiKey) -> ApiKeyEntry:
    return entry_of(row.id, row.name, row.key_hash, row.roles, row.expires_at, row.revoked_at is not None)


async def create_key(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    roles: Iterable[str],
    expires_at: datetime | None,
    rate_limit_per_minute: int | None,
) -> tuple[ApiKey, str]:
    """A new key (returned in plain once) and its row; ``api_key.created`` in the same transaction."""
    wanted = sorted(set(roles))
    if not wanted:
        raise InvalidInput("roles", "name at least one role")
    if Role.ADMIN in wanted:
        raise InvalidInput("roles", "an API key may not hold the admin role")
    unknown = [r for r in wanted if r not in KEY_ROLES]
    if unknown:
        raise InvalidInput("roles", f"unknown roles: {', '.join(unknown)}")
    now = utcnow()
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise InvalidInput("expires_at", "must carry a time zone (e.g. 2027-01-01T00:00:00Z)")
        if expires_at <= now:
            raise InvalidInput("expires_at", "must be in the future")
        expires_at = expires_at.astimezone(UTC)
    key = new_key()
    row = ApiKey(
        name=name,
        key_hash=hash_key(key),
        prefix=key[:PREFIX_LENGTH],
        roles=wanted,
        rate_limit_per_minute=rate_limit_per_minute,
        created_by=principal.subject,
        created_at=now,
        expires_at=expires_at,
        changed_at=now,
    )
    session.add(row)
    await session.flush()
    await publish(
        session,
        ApiKeyCreated(
            api_key_id=row.id,
            name=row.name,
            key_hash=row.key_hash,
            roles=wanted,
            expires_at=expires_at,
            created_by=principal.subject,
            created_at=now,
        ),
        subject=str(row.id),
        key=str(row.id),
    )
    return row, key


async def get_key(session: AsyncSession, key_id: uuid.UUID) -> ApiKey:
    row = await session.get(ApiKey, key_id)
    if row is None:
        raise NotFound("api key", key_id)
    return row


async def list_keys(session: AsyncSession, page: PageParams) -> tuple[list[Any], str | None]:
    return await paginate(session, select(ApiKey), page, (col(ApiKey.id),))


async def revoke_key(session: AsyncSession, principal: Principal, key_id: uuid.UUID, keys: ApiKeys) -> ApiKey:
    """Revoke at once on this replica, and for everyone through the table and ``api_key.revoked``.
    Revoking a revoked key changes nothing."""
    row = await session.get(ApiKey, key_id, with_for_update=True)
    if row is None:
        raise NotFound("api key", key_id)
    if row.revoked_at is not None:
        keys.revoke(row.key_hash, row.id)
        return row
    key_hash = row.key_hash
    # This replica refuses it once the revocation is committed, before the answer leaves (the
    # request's session commits before responding); a rolled-back revocation refuses nothing.
    event.listen(session.sync_session, "after_commit", lambda _: keys.revoke(key_hash, key_id), once=True)
    now = utcnow()
    row.revoked_at = row.changed_at = now
    row.revoked_by = principal.subject
    await session.flush()
    await publish(
        session,
        ApiKeyRevoked(api_key_id=row.id, key_hash=row.key_hash, revoked_by=principal.subject, revoked_at=now),
        subject=str(row.id),
        key=str(row.id),
    )
    return row


def status_of(row: ApiKey, now: datetime | None = None) -> Literal["active", "expired", "revoked"]:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


class KeyPolicies:
    """A key's own request limit per minute, if it has one (read with the keys)."""

    def __init__(self) -> None:
        self.per_minute: dict[str, int] = {}  # subject -> limit

    def of(self, subject: str) -> int | None:
        return self.per_minute.get(subject)


async def _changed_since(session: AsyncSession, since: datetime | None) -> list[ApiKey]:
    stmt = select(ApiKey)
    if since is not None:
        stmt = stmt.where(col(ApiKey.changed_at) >= since)
    return list((await session.execute(stmt)).scalars())


async def flush_usage(
    sessions: async_sessionmaker[AsyncSession], keys: ApiKeys, written: dict[uuid.UUID, float], every: float
) -> int:
    """Write each key's latest use, if it is ``every`` seconds past what this replica last wrote."""
    due = {k: t for k, t in list(keys.used.items()) if t - written.get(k, 0.0) >= every}
    if not due:
        return 0
    async with sessions() as session, session.begin():
        for key_id, at in due.items():
            when = datetime.fromtimestamp(at, UTC)
            await session.execute(
                update(ApiKey)
                .where(
                    col(ApiKey.id) == key_id,
                    or_(col(ApiKey.last_used_at).is_(None), col(ApiKey.last_used_at) < when),
                )
                .values(last_used_at=when)
            )
    written.update(due)
    return len(due)


@contextlib.asynccontextmanager
async def follow_api_keys_table(app: FastAPI) -> AsyncIterator[None]:
    """This gateway replica's keys: the whole table at start, then what changed, every
    ``api_keys_poll_seconds``; and the last uses written behind."""
    settings: Any = app.state.settings
    sessions = app.state.runtime.sessions
    keys: ApiKeys = app.state.api_keys
    policies: KeyPolicies = app.state.api_key_policies

    since: datetime | None = None

    async def refresh() -> None:
        nonlocal since
        now = utcnow()
        async with read_session(sessions) as session:
            rows = await _changed_since(session, since)
        for row in rows:
            if row.revoked_at is None:
                keys.put(entry_of_row(row))
            else:
                keys.revoke(row.key_hash, row.id)
            subject = subject_of(row.id)
            if row.rate_limit_per_minute is not None:
                policies.per_minute[subject] = row.rate_limit_per_minute
            else:
                policies.per_minute.pop(subject, None)
        keys.synced_at = time.monotonic()
        since = now - OVERLAP

    async def follow() -> None:
        failing = False
        while True:
            await asyncio.sleep(settings.api_keys_poll_seconds)
            try:
                await refresh()
                if failing:
                    log.warning("API keys are current again")
                    failing = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failing:
                    log.warning("cannot read the API keys; changes wait until it can", extra={"error": repr(exc)})
                    failing = True

    try:
        await refresh()  # known before the first request
    except Exception as exc:
        log.warning("cannot read the API keys at start", extra={"error": repr(exc)})
    written: dict[uuid.UUID, float] = {}

    async def write_behind() -> None:
        every = settings.api_key_usage_flush_seconds
        while True:
            await asyncio.sleep(min(max(every, 0.2), 5.0))
            try:
                await flush_usage(sessions, keys, written, every)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("could not write API keys' last use", extra={"error": repr(exc)})

    tasks = [asyncio.create_task(follow()), asyncio.create_task(write_behind())]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await flush_usage(sessions, keys, written, 0.0)
