"""The delivery worker: loops in every process claim due deliveries, record each attempt
(committed) before sending it, send concurrently, and record the outcomes.

Claiming takes rows with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; any number of replicas) and marks
them ``sending`` until ``claimed_until``: a process killed mid-send leaves them so, and after that
time any worker claims them again, with the same webhook-id (that repeat is visible as an attempt
without an outcome). An ordered endpoint's delivery is claimable only when no earlier delivery of
the same key is still pending or sending, so one key's go one at a time and a failing one holds
back only its key.

The worker is woken in-process right after a transaction that wrote deliveries commits, and
looks every ``webhook_poll_seconds`` otherwise (what another replica's consumer wrote, retries
that came due).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpcore
from sqlalchemy import and_, bindparam, exists, insert, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased
from sqlmodel import col
from standardwebhooks import Webhook

from tessera_notifications.directory import UserDirectory
from tessera_notifications.inbox.service import add_notification
from tessera_notifications.settings import NotificationsSettings
from tessera_notifications.webhooks import metrics
from tessera_notifications.webhooks.deliveries import attach_wake, forget_endpoints, queue_depth
from tessera_notifications.webhooks.endpoints import policy_of
from tessera_notifications.webhooks.lanes import Lanes
from tessera_notifications.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tessera_shared.auth import Role
from tessera_shared.db import dialect_name, table_of, unit_of_work, utcnow
from tessera_shared.events.contracts.notifications import WebhookEndpointDisabled
from tessera_shared.outbox import publish
from tessera_shared.tasks import finish_or_cancel

log = logging.getLogger(__name__)

BODY_LIMIT = 1024
USER_AGENT = "Tessera-Webhooks/1.0"


@dataclass
class Claimed:
    """A delivery claimed for one attempt, with what sending it needs."""

    id: int
    attempt: int
    webhook_id: str
    payload: bytes
    replay: bool
    created_at: datetime
    endpoint_id: uuid.UUID
    url: str
    secrets: list[str]


@dataclass
class Outcome:
    status_code: int | None = None
    body: str | None = None
    error: str | None = None
    latency_ms: int = 0
    finished_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


_SIGNERS: dict[str, Webhook] = {}


def signature(secrets: list[str], msg_id: str, at: datetime, payload: bytes) -> str:
    """``v1,<sig>`` per secret (the current one first, then one still valid after a rotation)."""
    parts = []
    for secret in secrets:
        signer = _SIGNERS.get(secret)
        if signer is None:
            if len(_SIGNERS) > 10_000:
                _SIGNERS.clear()
            signer = _SIGNERS[secret] = Webhook(secret)
        parts.append(signer.sign(msg_id, at, payload))
    return " ".join(parts)


def headers_for(claimed: Claimed, at: datetime) -> dict[str, str]:
    headers = {
        "content-type": "application/cloudevents+json",
        "user-agent": USER_AGENT,
        "webhook-id": claimed.webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature(claimed.secrets, claimed.webhook_id, at, claimed.payload),
    }
    if claimed.replay:
        headers["webhook-replay"] = "true"
    return headers


def retry_delay(settings: NotificationsSettings, attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones, with +-20 % jitter."""
    schedule = settings.webhook_retry_schedule or [60.0]
    base = schedule[min(attempts, len(schedule)) - 1]
    return float(base * (0.8 + 0.4 * random.random()))  # noqa: S311 - jitter, not a secret


class WebhookEngine:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: NotificationsSettings,
        directory: UserDirectory,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.directory = directory
        self.lanes = Lanes(
            policy_of(settings), timeout=settings.webhook_timeout, connections=settings.webhook_concurrency
        )
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._limit = asyncio.Semaphore(settings.webhook_concurrency)
        self._replays: set[asyncio.Task[Any]] = set()
        self.sent = 0
        attach_wake(sessions, self.wake)

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._loop(i), name=f"webhooks-{i}") for i in range(self.settings.webhook_workers)
        ]

    async def spawn(self, work: Any) -> None:
        """Run a background job (a replay) for as long as the process lives."""
        task = asyncio.create_task(work)
        self._replays.add(task)
        task.add_done_callback(self._replays.discard)

    async def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()
        for task in [*self._tasks, *self._replays]:
            await finish_or_cancel(task, 5.0)
        await self.lanes.aclose()

    async def _loop(self, number: int) -> None:
        idle = 0
        while not self._stopping.is_set():
            try:
                done = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("webhook round failed", extra={"error": repr(exc)})
                done = 0
                await self._wait(1.0)
            if done:
                idle = 0
                continue
            if number == 0 and idle % 20 == 0:
                await self._measure_queue()
            idle += 1
            # Loop 0 looks every poll interval; the others mostly wait for a wake-up (a commit here,
            # or loop 0 finding a full batch), so an idle process asks the database little.
            await self._wait(self.settings.webhook_poll_seconds * (1 if number == 0 else 10))

    async def _wait(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds * (0.75 + random.random() / 2))  # noqa: S311
        self._wakeup.clear()

    async def _measure_queue(self) -> None:
        with suppress(Exception):
            async with unit_of_work(self.sessions) as session:
                metrics.QUEUE.set(await queue_depth(session))

    async def run_once(self) -> int:
        """One round: claim a batch, send it, record it. The number of deliveries attempted."""
        claimed = await self.claim()
        if not claimed:
            return 0
        if len(claimed) >= self.settings.webhook_batch_size:
            self._wakeup.set()  # more may wait: another loop starts on them now
        outcomes = await asyncio.gather(*(self._send(c) for c in claimed))
        await self.record(list(zip(claimed, outcomes, strict=True)))
        return len(claimed)

    async def claim(self) -> list[Claimed]:
        now = utcnow()
        d, e = WebhookDelivery, WebhookEndpoint
        earlier = aliased(WebhookDelivery)
        held = and_(
            col(e.ordered),
            col(d.ordering_key).is_not(None),
            exists().where(
                col(earlier.endpoint_id) == col(d.endpoint_id),
                col(earlier.ordering_key) == col(d.ordering_key),
                col(earlier.id) < col(d.id),
                col(earlier.status).in_(("pending", "sending")),
            ),
        )
        stmt = (
            select(  # columns, not entities: no ORM objects to build and drop per claimed row
                col(d.id),
                col(d.attempts),
                col(d.webhook_id),
                col(d.payload),
                col(d.replay),
                col(d.created_at),
                col(d.endpoint_id),
                col(e.url),
                col(e.secret),
                col(e.previous_secret),
                col(e.previous_secret_until),
            )
            .join(e, col(e.id) == col(d.endpoint_id))
            .where(
                col(e.enabled),
                or_(
                    and_(col(d.status) == "pending", col(d.next_attempt_at) <= now),
                    and_(col(d.status) == "sending", col(d.claimed_until) < now),
                ),
                not_(held),
            )
            .order_by(col(d.id))
            .limit(self.settings.webhook_batch_size)
        )
        async with unit_of_work(self.sessions) as session:
            if dialect_name(session) == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True, of=table_of(WebhookDelivery))
            rows = (await session.execute(stmt)).all()
            if not rows:
                return []
            until = now + timedelta(seconds=self.settings.webhook_claim_seconds)
            claimed: list[Claimed] = []
            for row in rows:
                secrets = [row.secret]
                if row.previous_secret and row.previous_secret_until is not None and row.previous_secret_until > now:
                    secrets.append(row.previous_secret)
                claimed.append(
                    Claimed(
                        id=row.id,
                        attempt=row.attempts + 1,
                        webhook_id=row.webhook_id,
                        payload=row.payload,
                        replay=row.replay,
                        created_at=row.created_at,
                        endpoint_id=row.endpoint_id,
                        url=row.url,
                        secrets=secrets,
                    )
                )
            ids = [c.id for c in claimed]
            await session.execute(
                update(table_of(WebhookDelivery))
                .where(col(WebhookDelivery.id).in_(ids))
                .values(status="sending", attempts=WebhookDelivery.attempts + 1, claimed_until=until),
                execution_options={"synchronize_session": False},
            )
            await session.execute(
                insert(table_of(WebhookAttempt)),
                [{"id": uuid.uuid4(), "delivery_id": c.id, "number": c.attempt, "started_at": now} for c in claimed],
            )
            session.expunge_all()
        return claimed

    async def _send(self, claimed: Claimed) -> Outcome:
        async with self._limit:
            at = datetime.now(UTC)
            started = time.perf_counter()
            outcome = Outcome()
            try:
                answer = await self.lanes.post(claimed.url, claimed.payload, headers_for(claimed, at))
                outcome.status_code = answer.status_code
                outcome.body = answer.body[:BODY_LIMIT].decode("utf-8", "replace")
            except httpcore.TimeoutException as exc:
                outcome.error = f"timeout: {type(exc).__name__}"
            except Exception as exc:  # refused, reset, an invalid URL: an attempt that failed, never a crash
                outcome.error = f"{type(exc).__name__}: {exc}"[:500]
            elapsed = time.perf_counter() - started
            outcome.latency_ms = round(elapsed * 1000)
            outcome.finished_at = utcnow()
            metrics.REQUEST_SECONDS.observe(elapsed)
            return outcome

    async def record(self, results: list[tuple[Claimed, Outcome]]) -> None:
        now = utcnow()
        gone: set[uuid.UUID] = set()
        failing: set[uuid.UUID] = set()
        succeeded: set[uuid.UUID] = set()
        attempts: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        for claimed, outcome in results:
            attempts.append(
                {
                    "b_delivery": claimed.id,
                    "b_number": claimed.attempt,
                    "b_finished_at": outcome.finished_at,
                    "b_status_code": outcome.status_code,
                    "b_latency_ms": outcome.latency_ms,
                    "b_body": outcome.body,
                    "b_error": outcome.error,
                }
            )
            row: dict[str, Any] = {
                "b_id": claimed.id,
                "b_attempt": claimed.attempt,
                "b_code": outcome.status_code,
                "b_delivered_at": None,
                "b_error": None,
                "b_next": now,
            }
            if outcome.ok:
                row.update(b_status="delivered", b_delivered_at=now)
                succeeded.add(claimed.endpoint_id)
                metrics.DELIVERED.inc()
                metrics.DELIVERY_SECONDS.observe(max((now - claimed.created_at).total_seconds(), 0.0))
            else:
                kind = (
                    "timeout"
                    if (outcome.error or "").startswith("timeout")
                    else ("connection" if outcome.status_code is None else "status")
                )
                metrics.ATTEMPT_FAILURES.labels(kind).inc()
                row["b_error"] = (outcome.error or f"HTTP {outcome.status_code}")[:500]
                if outcome.status_code == 410:
                    row["b_status"] = "failed"
                    gone.add(claimed.endpoint_id)
                    metrics.GIVEN_UP.inc()
                elif now - claimed.created_at >= timedelta(days=self.settings.webhook_retry_days):
                    row["b_status"] = "failed"
                    failing.add(claimed.endpoint_id)
                    metrics.GIVEN_UP.inc()
                else:
                    row["b_status"] = "pending"
                    row["b_next"] = now + timedelta(seconds=retry_delay(self.settings, claimed.attempt))
                    failing.add(claimed.endpoint_id)
            deliveries.append(row)
        a, d = table_of(WebhookAttempt), table_of(WebhookDelivery)
        async with unit_of_work(self.sessions) as session:
            # Two statements for the whole batch (executemany).
            await session.execute(
                update(a)
                .where(a.c.delivery_id == bindparam("b_delivery"), a.c.number == bindparam("b_number"))
                .values(
                    finished_at=bindparam("b_finished_at"),
                    status_code=bindparam("b_status_code"),
                    latency_ms=bindparam("b_latency_ms"),
                    response_body=bindparam("b_body"),
                    error=bindparam("b_error"),
                ),
                attempts,
            )
            # Only the attempt this process claimed (a re-claim after a stall supersedes it).
            await session.execute(
                update(d)
                .where(d.c.id == bindparam("b_id"), d.c.status == "sending", d.c.attempts == bindparam("b_attempt"))
                .values(
                    status=bindparam("b_status"),
                    last_status_code=bindparam("b_code"),
                    last_error=bindparam("b_error"),
                    delivered_at=bindparam("b_delivered_at"),
                    next_attempt_at=bindparam("b_next"),
                    claimed_until=None,
                ),
                deliveries,
            )
            if succeeded:
                await session.execute(
                    update(table_of(WebhookEndpoint))
                    .where(col(WebhookEndpoint.id).in_(succeeded), col(WebhookEndpoint.failing_since).is_not(None))
                    .values(failing_since=None)
                )
            failing -= succeeded | gone
            if failing:
                await session.execute(
                    update(table_of(WebhookEndpoint))
                    .where(col(WebhookEndpoint.id).in_(failing), col(WebhookEndpoint.failing_since).is_(None))
                    .values(failing_since=now)
                )
                limit = now - timedelta(days=self.settings.webhook_disable_after_days)
                stale = await session.execute(
                    select(col(WebhookEndpoint.id)).where(
                        col(WebhookEndpoint.id).in_(failing),
                        col(WebhookEndpoint.enabled),
                        col(WebhookEndpoint.failing_since) <= limit,
                    )
                )
                for (endpoint_id,) in stale:
                    await self.disable(session, endpoint_id, "failing")
            for endpoint_id in gone:
                await self.disable(session, endpoint_id, "gone")

    async def disable(self, session: AsyncSession, endpoint_id: uuid.UUID, reason: str) -> None:
        """Disable the endpoint (once), publish it, and tell its owner and the admins."""
        endpoint = await session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
        if endpoint is None or not endpoint.enabled:
            return
        now = utcnow()
        endpoint.enabled = False
        endpoint.disabled_reason = "answered 410 Gone" if reason == "gone" else "failing for days"
        endpoint.version += 1
        endpoint.updated_at = now
        await session.flush()
        forget_endpoints(session)
        await publish(
            session,
            WebhookEndpointDisabled(endpoint_id=endpoint.id, owner=endpoint.owner, reason=reason, disabled_at=now),
            subject=endpoint.id,
            key=endpoint.owner,
        )
        days = self.settings.webhook_disable_after_days
        body = (
            f"{endpoint.url} answered 410 Gone"
            if reason == "gone"
            else f"every delivery to {endpoint.url} failed for {days:g} days"
        ) + '; enable it again with PATCH {"enabled": true} once it is fixed.'
        recipients = dict.fromkeys([endpoint.owner, *self.directory.with_role(Role.ADMIN)])
        for user_id in recipients:
            await add_notification(
                session,
                user_id=user_id,
                type="webhook_endpoint.disabled",
                title="A webhook endpoint was disabled",
                body=body[:2000],
                link=f"/api/v1/webhooks/endpoints/{endpoint.id}",
                customer_id=None,
                source_event_id=f"webhook-disabled/{endpoint.id}/{endpoint.version}",
                rule_id=None,
            )
        log.warning("webhook endpoint disabled", extra={"endpoint_id": str(endpoint.id), "reason": reason})
