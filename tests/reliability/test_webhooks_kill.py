"""Partner webhooks across a kill -9 of the delivering process (issue 22, "Done when").

Facts reach the notifications service over Kafka and fan out to a partner's endpoint (a real
HTTP receiver in this test). When the receiver has got half of them, it kills the
notifications process with SIGKILL before answering: that request and the others in flight were
sent, and their outcome never recorded. After the restart (their claim expires) they are sent
again. Nothing may be lost, and every repeat must carry the webhook-id of the first send, so a
receiver that deduplicates by it applies each event once. The count of repeats is reported.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections import Counter, defaultdict
from contextlib import suppress
from datetime import UTC, datetime

import httpx
import orjson
import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tessera_shared.events import build_event
from tessera_shared.events.contracts import CustomerCreated
from tessera_shared.kafka import make_producer

from .conftest import REPLICAS, SCALE, Stack, record
from .stack import ServiceProcess, eventually, scalar, token

pytestmark = pytest.mark.reliability


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """Answers 200 after a short pause (so that deliveries are in flight); on the ``kill_at``-th
    request it kills the notifications process first, and that request gets no answer."""

    def __init__(self, victim: ServiceProcess, kill_at: int) -> None:
        self.port = _free_port()
        self.victim = victim
        self.kill_at = kill_at
        self.requests = 0
        self.killed_at: float | None = None
        # CloudEvent id -> the webhook-ids it came with; every arrival, in order.
        self.ids: dict[str, set[str]] = defaultdict(set)
        self.arrivals: Counter[str] = Counter()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        event = orjson.loads(body)
        self.ids[event["id"]].add(request.headers["webhook-id"])
        self.arrivals[event["id"]] += 1
        self.requests += 1
        if self.requests == self.kill_at:
            self.victim.kill9()  # the outcome of this request and of those in flight is never recorded
            self.killed_at = time.monotonic()
            return  # no answer: the connection just closes
        await asyncio.sleep(0.05)
        await Response("ok")(scope, receive, send)


async def test_kill_9_of_the_delivering_process_loses_nothing_and_repeats_keep_their_webhook_id(
    stack: Stack,
) -> None:
    notifications = await stack.add("notifications")
    notifications.extra_env.update(
        {
            "TESSERA_NOTIFICATIONS_WEBHOOK_ALLOW_LOOPBACK": "true",
            "TESSERA_NOTIFICATIONS_WEBHOOK_REQUIRE_HTTPS": "false",
            # A claim whose outcome was never recorded is taken again after this long.
            "TESSERA_NOTIFICATIONS_WEBHOOK_CLAIM_SECONDS": "3",
            "TESSERA_NOTIFICATIONS_WEBHOOK_POLL_SECONDS": "0.2",
            "TESSERA_NOTIFICATIONS_WEBHOOK_RETRY_SCHEDULE": "[0.5]",
            # One loop sending batches of 5: the batches before the kill are recorded, the one in
            # flight is not.
            "TESSERA_NOTIFICATIONS_WEBHOOK_WORKERS": "1",
            "TESSERA_NOTIFICATIONS_WEBHOOK_BATCH_SIZE": "5",
        }
    )
    receiver = Receiver(notifications, kill_at=max(2, SCALE // 2))
    server = uvicorn.Server(
        uvicorn.Config(
            receiver.app, host="127.0.0.1", port=receiver.port, log_config=None, lifespan="off", interface="asgi3"
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        notifications.start()
        await notifications.wait_ready()
        admin = {"Authorization": f"Bearer {token()}"}
        async with httpx.AsyncClient(timeout=10) as client:
            r = await client.post(
                f"{notifications.url}/v1/webhooks/endpoints",
                json={"url": receiver.url, "event_types": ["customer.created"], "description": "fault suite"},
                headers=admin,
            )
            assert r.status_code == 201, r.text
        endpoint = r.json()["id"]

        producer = make_producer(stack.bootstrap, client_id="reliability")
        await producer.start()
        sent: list[str] = []
        try:
            for i in range(SCALE):
                customer = uuid.uuid4()
                envelope = build_event(
                    CustomerCreated(
                        customer_id=customer,
                        kind="organization",
                        name=f"Webhook fault {i}",
                        owner_id="rep1",
                        status="active",
                        created_at=datetime.now(UTC),
                    ),
                    subject=customer,
                )
                sent.append(envelope.id)
                await producer.send(f"{stack.namespace}crm.customer", envelope.to_json(), key=str(customer).encode())
            await producer.flush()
        finally:
            await producer.stop()

        assert await notifications.wait_killed(timeout=120) == -9
        delivered_before = len(receiver.ids)
        started = time.monotonic()
        notifications.start()
        await notifications.wait_ready()

        async def every_event_received() -> bool:
            return set(receiver.ids) >= set(sent)

        await eventually(every_event_received, timeout=120)
        recovery = round(time.monotonic() - started, 2)

        async def all_recorded() -> bool:
            delivered = await scalar(
                notifications.database_url,
                "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'delivered'",
                uuid.UUID(endpoint),
            )
            return int(delivered) == len(sent)

        await eventually(all_recorded, timeout=60)
        await asyncio.sleep(1.0)  # nothing more arrives once all is recorded
    finally:
        server.should_exit = True
        with suppress(Exception):
            await asyncio.wait_for(serving, 10)

    assert set(receiver.ids) == set(sent)  # nothing lost, nothing foreign
    # One webhook-id per event, whatever the number of sends: a receiver deduplicating by it
    # applies each event once.
    assert all(len(ids) == 1 for ids in receiver.ids.values()), {k: v for k, v in receiver.ids.items() if len(v) > 1}
    assert len({next(iter(ids)) for ids in receiver.ids.values()}) == len(sent)
    repeats = sum(receiver.arrivals.values()) - len(sent)
    if REPLICAS == 1:  # with a peer, the killed process may have had nothing in flight
        assert repeats >= 1  # the request the kill cut off came again
    unrecorded = int(
        await scalar(
            notifications.database_url,
            "SELECT count(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id "
            "WHERE d.endpoint_id = $1 AND a.finished_at IS NULL",
            uuid.UUID(endpoint),
        )
    )
    if REPLICAS == 1:
        assert unrecorded >= 1  # the attempts cut off by the kill stay visible as unfinished
    record(
        "kill -9 webhook delivery process with deliveries in flight",
        produced=len(sent),
        applied=len(receiver.ids),
        lost=len(sent) - len(receiver.ids),
        duplicated=0,
        redelivered=unrecorded,
        copies=repeats,
        recovery_s=recovery,
    )
    print(
        f"\n[reliability] webhooks: {len(sent)} events, {delivered_before} distinct before the kill, "
        f"{repeats} repeats (same webhook-id), {unrecorded} attempts cut off unrecorded"
    )
