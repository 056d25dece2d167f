"""Replay: every matching event on the fanned-out topics since a time, enqueued again for one
endpoint as replay deliveries (``replay`` true, a ``webhook-replay: true`` header, a webhook-id of
their own). A job of the process that accepted it: it reads from ``offsets_for_times`` to the
ends the topics had when it started, with a consumer of its own outside any group, and inserts the
deliveries in batches (the raw message value as the body, redacted for an endpoint without
``personal_data``: ``deliveries.body_of``); the job's row says how far it got."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from tessera_notifications.settings import NotificationsSettings
from tessera_notifications.webhooks.deliveries import body_of, delivery_row, insert_deliveries, matches
from tessera_notifications.webhooks.endpoints import FANNED_OUT
from tessera_notifications.webhooks.models import WebhookEndpoint, WebhookReplay
from tessera_shared.db import table_of, unit_of_work, utcnow
from tessera_shared.errors import NotFound
from tessera_shared.events.envelope import parse_envelope, topic_for

log = logging.getLogger(__name__)

BATCH = 500


async def start_replay(session: AsyncSession, endpoint: WebhookEndpoint, since: datetime) -> WebhookReplay:
    replay = WebhookReplay(endpoint_id=endpoint.id, since=since)
    session.add(replay)
    await session.flush()
    return replay


async def find_replay(session: AsyncSession, endpoint_id: uuid.UUID, replay_id: uuid.UUID) -> WebhookReplay:
    replay = await session.get(WebhookReplay, replay_id)
    if replay is None or replay.endpoint_id != endpoint_id:
        raise NotFound("webhook replay", replay_id)
    return replay


async def run_replay(
    sessions: async_sessionmaker[AsyncSession], settings: NotificationsSettings, replay_id: uuid.UUID
) -> None:
    """Read the topics and enqueue; the job's row ends ``done`` (with the count) or ``failed``."""
    enqueued, error = 0, None
    try:
        async with unit_of_work(sessions) as session:
            replay = await session.get(WebhookReplay, replay_id)
            endpoint = await session.get(WebhookEndpoint, replay.endpoint_id) if replay else None
            if replay is None or endpoint is None:
                return
            since, types, endpoint_id = replay.since, list(endpoint.event_types), endpoint.id
            personal_data = endpoint.personal_data
        enqueued = await _enqueue(sessions, settings, replay_id, endpoint_id, types, since, personal_data)
    except Exception as exc:
        log.warning("webhook replay failed", extra={"replay_id": str(replay_id), "error": repr(exc)})
        error = f"{type(exc).__name__}: {exc}"[:500]
    async with unit_of_work(sessions) as session:
        await session.execute(
            update(table_of(WebhookReplay))
            .where(col(WebhookReplay.id) == replay_id)
            .values(status="failed" if error else "done", error=error, enqueued=enqueued, finished_at=utcnow())
        )


async def _enqueue(
    sessions: async_sessionmaker[AsyncSession],
    settings: NotificationsSettings,
    replay_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    types: list[str],
    since: datetime,
    personal_data: bool,
) -> int:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        client_id=f"tessera-{settings.service_name}-replay",
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    enqueued = 0
    try:
        partitions: list[TopicPartition] = []
        for service in FANNED_OUT:
            topic = topic_for(service, settings.kafka_topic_namespace)
            found = consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        if not partitions:
            return 0
        consumer.assign(partitions)
        starts = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in partitions})
        ends = await consumer.end_offsets(partitions)
        todo: dict[TopicPartition, int] = {}
        for tp in partitions:
            start = starts.get(tp)
            if start is None or start.offset >= ends[tp]:
                continue  # nothing since then on this partition
            todo[tp] = ends[tp]
        if not todo:
            return 0
        consumer.assign(list(todo))
        for tp in todo:
            found_start = starts[tp]
            if found_start is not None:
                consumer.seek(tp, found_start.offset)
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        while todo:
            batches = await consumer.getmany(*todo, timeout_ms=1000, max_records=BATCH)
            for tp, records in batches.items():
                for record in records:
                    if tp in todo and record.offset < todo[tp] and record.value is not None:
                        try:
                            event = parse_envelope(record.value)
                        except ValueError:
                            continue  # not a CloudEvent: nothing a partner could be sent
                        if matches(types, event.type) and event.id not in seen:
                            seen.add(event.id)  # a message the producer sent twice: once
                            key = record.key.decode("utf-8", "replace") if record.key else event.subject
                            try:
                                body = body_of(event, personal_data, bytes(record.value))
                            except LookupError:
                                continue  # a type without a contract here: nothing says what to redact
                            rows.append(delivery_row(event, body, endpoint_id, key, replay_id))
                if tp in todo and await consumer.position(tp) >= todo[tp]:
                    del todo[tp]
            if len(rows) >= BATCH or (rows and not todo):
                async with unit_of_work(sessions) as session:
                    enqueued += await insert_deliveries(session, rows)
                rows = []
    finally:
        await consumer.stop()
    return enqueued


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()
