"""API keys: long-lived bearer tokens for server-to-server callers, accepted by every process.

A key is ``tsk_`` followed by 43 characters of base64url (32 random bytes). The gateway creates
and revokes them (``/api/v1/api-keys``) and stores only their SHA-256: a key carries 256 bits
of entropy, so a fast hash is as safe as a slow one and costs a microsecond a request.

Every process keeps the keys it knows in memory (:class:`ApiKeys`, on ``app.state.api_keys``):
SHA-256 of the bearer token, a dict lookup, a constant-time comparison of the stored hash.
:func:`tessera_shared.auth.principal_from_request` resolves ``tsk_`` tokens here instead of
verifying a JWT. How the set is kept current:

- the gateway's replicas read their own table (the truth) every second, and the replica that
  revokes a key drops it at once (``tessera_gateway.apikeys``);
- every other process follows the gateway's facts ``api_key.created`` / ``api_key.revoked`` on
  ``crm.gateway`` (:func:`follow_api_keys`). It reads the topic without a consumer group, every
  partition from the beginning: each process sees every event (a group would hand each event to
  one replica of a service). The topic is compacted, so the beginning holds the latest event of
  every key ever created, however long ago; a revocation reaches the services in the relay's
  and the consumer's latency (well under a second when all is up).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI

from tessera_shared.auth import API_KEY_PREFIX, Principal
from tessera_shared.events.contracts.gateway import ApiKeyCreated, ApiKeyRevoked
from tessera_shared.events.envelope import parse_envelope, topic_for
from tessera_shared.http.errors import Problem
from tessera_shared.kafka_log import OUTAGE, is_kafka_failure
from tessera_shared.settings import ServiceSettings

log = logging.getLogger(__name__)

KEY_PREFIX = API_KEY_PREFIX
KEY_BYTES = 32
# The subject of an API key's calls: "apikey:<id>" (audit rows, rate limits, owner rules).
SUBJECT_PREFIX = "apikey:"


def new_key() -> str:
    """A fresh key: ``tsk_`` and 32 random bytes as base64url (43 characters)."""
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def subject_of(key_id: uuid.UUID) -> str:
    return f"{SUBJECT_PREFIX}{key_id}"


@dataclass(frozen=True)
class ApiKeyEntry:
    id: uuid.UUID
    name: str
    key_hash: str
    roles: frozenset[str]
    expires_at: float | None  # epoch seconds
    revoked: bool = False

    @property
    def principal(self) -> Principal:
        return Principal(
            subject=subject_of(self.id),
            roles=self.roles,
            kind="client",
            name=self.name,
            expires_at=self.expires_at,
        )


def _refused(detail: str, slug: str) -> Problem:
    return Problem(
        401,
        detail,
        slug=slug,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{detail}"'},
    )


class ApiKeys:
    """The keys this process knows: SHA-256 -> entry. Resolving one is a hash and a dict lookup."""

    def __init__(self) -> None:
        self._by_hash: dict[str, tuple[ApiKeyEntry, Principal]] = {}
        # key id -> epoch seconds of its latest use through this process (the gateway writes
        # them behind, at most every few seconds per key: tessera_gateway.apikeys.usage).
        self.used: dict[uuid.UUID, float] = {}
        self.synced_at: float | None = None  # monotonic time of the last refresh (the gateway's)

    def __len__(self) -> int:
        return len(self._by_hash)

    def put(self, entry: ApiKeyEntry) -> None:
        known = self._by_hash.get(entry.key_hash)
        if known is not None and known[0].revoked and not entry.revoked:
            return  # a revocation is final: an older creation read late does not undo it
        self._by_hash[entry.key_hash] = (entry, entry.principal)

    def revoke(self, key_hash: str, key_id: uuid.UUID) -> None:
        known = self._by_hash.get(key_hash)
        entry = (
            ApiKeyEntry(known[0].id, known[0].name, key_hash, known[0].roles, known[0].expires_at, revoked=True)
            if known is not None
            else ApiKeyEntry(key_id, "", key_hash, frozenset(), None, revoked=True)
        )
        self._by_hash[key_hash] = (entry, entry.principal)

    def replace(self, entries: Iterable[ApiKeyEntry]) -> None:
        """The whole set at once (the gateway's first read of its table)."""
        self._by_hash = {e.key_hash: (e, e.principal) for e in entries}

    def get(self, key_hash: str) -> ApiKeyEntry | None:
        found = self._by_hash.get(key_hash)
        return found[0] if found is not None else None

    def resolve(self, token: str) -> Principal:
        """The principal of a ``tsk_`` bearer token, or a 401 problem saying why not."""
        key_hash = hash_key(token)
        found = self._by_hash.get(key_hash)
        # The lookup is by a hash the caller cannot steer; the comparison is constant-time anyway.
        if found is None or not hmac.compare_digest(found[0].key_hash, key_hash):
            raise _refused("unknown API key", "api-key-unknown")
        entry, principal = found
        if entry.revoked:
            raise _refused("API key revoked", "api-key-revoked")
        now = time.time()
        if entry.expires_at is not None and now >= entry.expires_at:
            raise _refused("API key expired", "api-key-expired")
        self.used[entry.id] = now
        return principal

    def apply(self, event_type: str, data: dict[str, object]) -> None:
        """One fact from ``crm.gateway``; other types are ignored."""
        if event_type == ApiKeyCreated.event_type:
            created = ApiKeyCreated.model_validate(data)
            self.put(
                ApiKeyEntry(
                    created.api_key_id,
                    created.name,
                    created.key_hash,
                    frozenset(created.roles),
                    created.expires_at.timestamp() if created.expires_at is not None else None,
                )
            )
        elif event_type == ApiKeyRevoked.event_type:
            revoked = ApiKeyRevoked.model_validate(data)
            self.revoke(revoked.key_hash, revoked.api_key_id)


def entry_of(
    key_id: uuid.UUID,
    name: str,
    key_hash: str,
    roles: Iterable[str],
    expires_at: datetime | None,
    revoked: bool,
) -> ApiKeyEntry:
    return ApiKeyEntry(
        key_id,
        name,
        key_hash,
        frozenset(roles),
        expires_at.timestamp() if expires_at is not None else None,
        revoked,
    )


class ApiKeyFollower:
    """Reads ``crm.gateway`` from its beginning, every partition, without a consumer group, and
    applies each fact to an :class:`ApiKeys`. Reconnects after a failure (logged once)."""

    def __init__(self, keys: ApiKeys, bootstrap: str, topic: str, client_id: str, retry: float = 1.0) -> None:
        self.keys = keys
        self.bootstrap = bootstrap
        self.topic = topic
        self.client_id = client_id
        self.retry = retry
        self.applied = 0
        self._failing = False

    async def run(self) -> None:
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_kafka_failure(exc):  # the broker away: the one shared outage line says so
                    OUTAGE.failed("api keys", repr(exc))
                    self._failing = True
                elif not self._failing:
                    log.warning(
                        "cannot follow the API keys; new keys and revocations wait until it can",
                        extra={"topic": self.topic, "error": repr(exc)},
                    )
                    self._failing = True
            await asyncio.sleep(self.retry)

    async def _follow(self) -> None:
        # Subscribed without a group: aiokafka assigns this process every partition of the topic
        # (also partitions and a topic that appear later, at the next metadata refresh) and, with
        # no committed offsets, starts each at its beginning.
        consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            metadata_max_age_ms=5_000,
        )
        try:
            await consumer.start()  # inside: a failed start is closed too (no unclosed consumer)
            if self._failing:
                OUTAGE.recovered("api keys")
                log.warning("following the API keys again", extra={"topic": self.topic})
                self._failing = False
            while True:
                batch = await consumer.getmany(timeout_ms=1000, max_records=500)
                for records in batch.values():
                    for record in records:
                        self._apply(record.value)
                self.keys.synced_at = time.monotonic()
        finally:
            await consumer.stop()

    def _apply(self, raw: bytes | None) -> None:
        if raw is None:
            return
        try:
            envelope = parse_envelope(raw)
            self.keys.apply(envelope.type, envelope.data)
        except Exception as exc:  # a malformed fact must not stop the others
            log.warning("unreadable fact on the API keys topic", extra={"error": repr(exc)})
            return
        self.applied += 1


@asynccontextmanager
async def follow_api_keys(app: FastAPI, service: str, settings: ServiceSettings) -> AsyncIterator[None]:
    """Every process but the gateway's (which reads its own table) follows ``crm.gateway``."""
    if service == "gateway" or not settings.kafka_enabled or not settings.api_keys:
        yield
        return
    follower = ApiKeyFollower(
        app.state.api_keys,
        settings.kafka_bootstrap,
        topic_for("gateway", settings.kafka_topic_namespace),
        client_id=f"tessera-{service}-api-keys",
    )
    app.state.api_key_follower = follower
    task = asyncio.create_task(follower.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
