"""The dead-letter topic: a message that cannot be applied is parked there with why and whence."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer, ConsumerRecord

log = logging.getLogger(__name__)


class DeadLetters:
    """Publishes parked messages to ``topic`` with ``dlq-*`` headers; retries until the broker
    takes it, since the offset must not move past a message that is neither applied nor parked."""

    def __init__(self, producer_factory: Callable[[], AIOKafkaProducer], topic: str, group_id: str) -> None:
        self._producer_factory = producer_factory
        self._topic = topic
        self._group_id = group_id
        self._producer: AIOKafkaProducer | None = None

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def park(self, record: ConsumerRecord, exc: BaseException, *, attempts: int, event_type: str) -> None:
        log.error(
            "message sent to the dead-letter topic",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "event_type": event_type,
                "error": repr(exc),
            },
        )
        headers = [
            ("dlq-error", repr(exc)[:4000].encode()),
            ("dlq-error-type", type(exc).__name__.encode()),
            ("dlq-origin-topic", record.topic.encode()),
            ("dlq-origin-partition", str(record.partition).encode()),
            ("dlq-origin-offset", str(record.offset).encode()),
            ("dlq-consumer-group", self._group_id.encode()),
            ("dlq-attempts", str(attempts).encode()),
            ("dlq-failed-at", datetime.now(UTC).isoformat().encode()),
            *[(k, v) for k, v in (record.headers or ()) if not k.startswith("dlq-")],
        ]
        backoff = 0.5
        while True:
            try:
                if self._producer is None:
                    producer = self._producer_factory()
                    await producer.start()
                    self._producer = producer
                await self._producer.send_and_wait(self._topic, value=record.value, key=record.key, headers=headers)
                break
            except Exception as exc2:
                # The offset must not move past a message that is neither applied nor parked.
                log.warning("dead-letter publish failed, retrying", extra={"error": repr(exc2)})
                if self._producer is not None:
                    await self._producer.stop()
                    self._producer = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
