"""Deliveries: written with the fact that causes them (the consumer's transaction, a test, a
replay, a redelivery), read back with their attempts. Writing one wakes this process's worker when
the transaction commits."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from sqlmodel import col

from tessera_notifications.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tessera_notifications.webhooks.schemas import AttemptOut, DeliveryOut
from tessera_shared.db import table_of, unit_of_work, upsert, utcnow
from tessera_shared.db.read_cache import ReadCache
from tessera_shared.errors import Conflict, NotFound
from tessera_shared.events import CloudEvent
from tessera_shared.events.redaction import redacted
from tessera_shared.http.pagination import PageParams, paginate

TEST_EVENT_TYPE = "webhook.test"
_NAMESPACE = uuid.UUID("0d6f3c55-8e0f-4f6a-9d1e-5b0a2f7c4e21")
_PENDING = "tessera.webhooks.pending"
_WAKE = "tessera.webhooks.wake"


def webhook_id(event_id: str, endpoint_id: uuid.UUID, replay_id: uuid.UUID | None = None) -> str:
    """``msg_`` + a UUID fixed by the event and the endpoint: the same on every attempt and on a
    redelivery. A replay has its own (the receiver is asked to process the event again; a
    receiver that drops repeated webhook-ids would otherwise drop the whole replay)."""
    name = f"{event_id}/{endpoint_id}" if replay_id is None else f"{event_id}/{endpoint_id}/replay/{replay_id}"
    return f"msg_{uuid.uuid5(_NAMESPACE, name).hex}"


def attach_wake(sessions: async_sessionmaker[AsyncSession], wake: Callable[[], None]) -> None:
    """Have sessions of ``sessions`` call ``wake`` right after a commit that wrote deliveries."""
    sessions.kw.setdefault("info", {})[_WAKE] = wake


@sa_event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop(_PENDING, False):
        wake = session.info.get(_WAKE)
        if wake is not None:
            wake()


@sa_event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def matches(endpoint_types: Iterable[str], event_type: str) -> bool:
    return any(t == "*" or t == event_type for t in endpoint_types)


@dataclass(frozen=True)
class Target:
    id: uuid.UUID
    event_types: tuple[str, ...]
    personal_data: bool


# The enabled endpoints, read at most every ENDPOINTS_TTL seconds per process (not once per consumed
# event); a change through this process clears them at once and at its commit, one through another
# replica is seen within ENDPOINTS_TTL (an endpoint created there misses at most that much).
ENDPOINTS_TTL = 1.0
_endpoints: ReadCache[list[Target]] = ReadCache(ENDPOINTS_TTL)


def forget_endpoints(session: AsyncSession) -> None:
    """An endpoint was added, changed or removed in ``session``'s transaction."""
    _endpoints.forget_on_commit(session)


async def enabled_endpoints(session: AsyncSession) -> list[Target]:
    async def load() -> list[Target]:
        rows = await session.execute(
            select(col(WebhookEndpoint.id), col(WebhookEndpoint.event_types), col(WebhookEndpoint.personal_data)).where(
                col(WebhookEndpoint.enabled)
            )
        )
        return [Target(endpoint_id, tuple(types or ()), bool(personal)) for endpoint_id, types, personal in rows]

    return await _endpoints.get(session, "enabled", load)


def body_of(event: CloudEvent, personal_data: bool, raw: bytes | None = None) -> bytes:
    """What an endpoint is sent: the envelope as the producer serialised it (``raw``, else
    ``CloudEvent.to_json`` of the parsed envelope, which gives the message's bytes back), or, for
    an endpoint without ``personal_data``, re-serialised with the contract's personal fields null
    and ``redaction: personal`` (LookupError for a type without a contract)."""
    if personal_data:
        return raw if raw is not None else event.to_json()
    return redacted(event).to_json()


async def insert_deliveries(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Insert delivery rows (one per event and endpoint: a repeat is ignored); the worker is woken
    at the commit."""
    if not rows:
        return 0
    table = table_of(WebhookDelivery)
    now = utcnow()
    for row in rows:
        row.setdefault("status", "pending")
        row.setdefault("attempts", 0)
        row.setdefault("replay", False)
        row.setdefault("next_attempt_at", now)
        row.setdefault("created_at", now)
    stmt = upsert(session, table).on_conflict_do_nothing(index_elements=["endpoint_id", "webhook_id"])
    await session.execute(stmt, rows)
    session.sync_session.info[_PENDING] = True
    return len(rows)


def delivery_row(
    event: CloudEvent, payload: bytes, endpoint_id: uuid.UUID, key: str | None, replay_id: uuid.UUID | None = None
) -> dict[str, Any]:
    return {
        "endpoint_id": endpoint_id,
        "webhook_id": webhook_id(event.id, endpoint_id, replay_id),
        "event_id": event.id,
        "event_type": event.type,
        "ordering_key": key[:200] if key else None,
        "payload": payload,
        "replay": replay_id is not None,
        "replay_id": replay_id,
    }


async def fan_out(session: AsyncSession, events: Sequence[CloudEvent]) -> int:
    """One delivery per event and enabled endpoint that subscribes to its type, in the consumer's
    transaction (with the inbox row: exactly one delivery per event and endpoint). The body
    (``body_of``) is stored, so the signature covers what was stored, on every attempt; the
    ordering key is the subject, the customer id the Kafka key is."""
    targets = await enabled_endpoints(session)
    if not targets:
        return 0
    rows = []
    for event in events:
        bodies: dict[bool, bytes] = {}
        for target in targets:
            if matches(target.event_types, event.type):
                if target.personal_data not in bodies:
                    bodies[target.personal_data] = body_of(event, target.personal_data)
                rows.append(delivery_row(event, bodies[target.personal_data], target.id, event.subject))
    return await insert_deliveries(session, rows)


async def find_delivery(session: AsyncSession, delivery_id: int, *, for_update: bool = False) -> WebhookDelivery:
    delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=for_update)
    if delivery is None:
        raise NotFound("webhook delivery", delivery_id)
    return delivery


async def redeliver(session: AsyncSession, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send the delivery again soon, with the same webhook-id (its attempts so far are kept)."""
    if delivery.status == "sending":
        raise Conflict("the delivery is being sent now", kind="delivery-in-flight")
    delivery.status = "pending"
    delivery.next_attempt_at = utcnow()
    delivery.claimed_until = None
    await session.flush()
    session.sync_session.info[_PENDING] = True
    return delivery


async def page_of_deliveries(
    session: AsyncSession, endpoint_id: uuid.UUID, params: PageParams
) -> tuple[list[DeliveryOut], str | None]:
    """Newest first, each with its attempts."""
    stmt = select(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint_id)
    rows, cursor = await paginate(session, stmt, params, (col(WebhookDelivery.id),), descending=True)
    return await described(session, rows), cursor


async def described(session: AsyncSession, rows: list[WebhookDelivery]) -> list[DeliveryOut]:
    ids = [row.id for row in rows]
    attempts: dict[int, list[AttemptOut]] = {}
    if ids:
        found = await session.execute(
            select(WebhookAttempt)
            .where(col(WebhookAttempt.delivery_id).in_(ids))
            .order_by(col(WebhookAttempt.delivery_id), col(WebhookAttempt.number))
        )
        for attempt in found.scalars():
            attempts.setdefault(attempt.delivery_id, []).append(AttemptOut.model_validate(attempt))
    return [
        DeliveryOut(
            id=row.id or 0,
            endpoint_id=row.endpoint_id,
            webhook_id=row.webhook_id,
            event_id=row.event_id,
            event_type=row.event_type,
            status=row.status,
            replay=row.replay,
            attempts=attempts.get(row.id or 0, []),
            created_at=row.created_at,
            next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
            delivered_at=row.delivered_at,
        )
        for row in rows
    ]


async def forget_deliveries(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    ids = select(col(WebhookDelivery.id)).where(col(WebhookDelivery.endpoint_id) == endpoint_id)
    await session.execute(delete(WebhookAttempt).where(col(WebhookAttempt.delivery_id).in_(ids)))
    await session.execute(delete(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint_id))


async def queue_depth(session: AsyncSession) -> int:
    found = await session.execute(select(func.count()).where(col(WebhookDelivery.status).in_(("pending", "sending"))))
    return int(found.scalar_one())


async def enqueue_test(session: AsyncSession, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A ``webhook.test`` delivery to the endpoint (a CloudEvent made here, not published)."""
    event = CloudEvent(
        id=str(uuid.uuid4()),
        source="/crm/notifications",
        type=TEST_EVENT_TYPE,
        time=utcnow(),
        subject=str(endpoint.id),
        data={"endpoint_id": str(endpoint.id), "message": "a test delivery from Tessera"},
    )
    await insert_deliveries(session, [delivery_row(event, event.to_json(), endpoint.id, None)])
    found = await session.execute(select(WebhookDelivery).where(col(WebhookDelivery.event_id) == event.id))
    return found.scalar_one()


async def _forget(session: AsyncSession, *conditions: Any) -> int:
    """Delete the finished deliveries meeting ``conditions``, with their attempts."""
    finished = col(WebhookDelivery.status).in_(("delivered", "failed"))
    ids = [i for (i,) in await session.execute(select(col(WebhookDelivery.id)).where(finished, *conditions))]
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        await session.execute(delete(WebhookAttempt).where(col(WebhookAttempt.delivery_id).in_(chunk)))
        await session.execute(delete(WebhookDelivery).where(col(WebhookDelivery.id).in_(chunk)))
    return len(ids)


async def forget_customer(session: AsyncSession, customer_id: str) -> int:
    """customer.erased: the finished deliveries about the customer (their bodies hold its data) go.
    Those still waiting are sent as they are (in order, before the erasure's own delivery)."""
    return await _forget(session, col(WebhookDelivery.ordering_key) == customer_id)


async def purge_finished(sessions: async_sessionmaker[AsyncSession], now: datetime, days: float) -> dict[str, int]:
    """The retention job: finished deliveries older than ``days`` go, with their attempts."""
    async with unit_of_work(sessions) as session:
        gone = await _forget(session, col(WebhookDelivery.created_at) < now - timedelta(days=days))
    return {"purged": gone}
