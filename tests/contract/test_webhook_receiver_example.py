"""The partner guide's example webhook receiver (docs/examples/webhook_receiver/receiver.py), run as
its own process: it verifies signatures with the Standard Webhooks library, applies a delivery
once however often it comes, answers 400 to a bad signature or a bad payload and keeps running;
and it takes real deliveries from the notifications service (real Kafka, real HTTP), including a
redelivery with the same webhook-id."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

import tessera_notifications.main as notifications_main
from tessera_notifications.settings import NotificationsSettings
from tessera_shared.events import build_event
from tessera_shared.events.contracts import InvoicePaid
from tessera_shared.kafka import make_producer
from tessera_shared.testing.plugin import bearer, migrations_of, running

ROOT = Path(__file__).resolve().parents[2]
RECEIVER = ROOT / "docs/examples/webhook_receiver/receiver.py"
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_receiver(tmp_path: Path, secret: str, previous: str = "") -> tuple[subprocess.Popen[str], str, Path]:
    port, db = free_port(), tmp_path / "received.sqlite"
    proc = subprocess.Popen(
        [sys.executable, str(RECEIVER), "--port", str(port), "--db", str(db)],
        env={**os.environ, "WEBHOOK_SECRET": secret, "WEBHOOK_PREVIOUS_SECRET": previous},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/hook"
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the receiver did not start: {proc.communicate()[0]}")
            time.sleep(0.05)
    return proc, url, db


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    proc, url, db = start_receiver(tmp_path, SECRET)
    yield url, db
    proc.terminate()
    proc.wait(10)


def signed(body: bytes, secret: str = SECRET, msg_id: str | None = None) -> dict[str, str]:
    """The headers Tessera sends (Standard Webhooks: id, timestamp, v1 signature)."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    return {
        "content-type": "application/cloudevents+json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
    }


def paid_event() -> bytes:
    customer = uuid.uuid4()
    data = InvoicePaid(
        invoice_id=uuid.uuid4(),
        number="INV-2026-000007",
        customer_id=customer,
        total=Decimal("99.90"),
        currency="EUR",
        paid_at=datetime.now(UTC),
    )
    return build_event(data, subject=customer).to_json()


def test_the_example_receiver_verifies_dedupes_and_survives_bad_requests(receiver: tuple[str, Path]) -> None:
    url, db = receiver
    body = paid_event()
    headers = signed(body)
    with httpx.Client(timeout=5) as client:
        first = client.post(url, content=body, headers=headers)
        assert (first.status_code, first.text) == (200, "applied")
        # A retry (or a repeat after a crash on Tessera's side) carries the same webhook-id.
        again = client.post(url, content=body, headers=headers)
        assert (again.status_code, again.text) == (200, "already applied")

        # Forged: another secret, a changed body under the old signature, no signature, an old timestamp.
        forged = client.post(url, content=body, headers=signed(body, secret="whsec_" + "A" * 32))
        assert forged.status_code == 400 and forged.text.startswith("bad signature")
        tampered = body.replace(b"99.90", b"0.01")
        assert client.post(url, content=tampered, headers=signed(body)).status_code == 400
        assert client.post(url, content=body, headers={"content-type": "application/json"}).status_code == 400
        stale = signed(body)
        stale["webhook-timestamp"] = str(int(time.time()) - 3600)
        assert client.post(url, content=body, headers=stale).status_code == 400

        # Signed but not a CloudEvent: 400, and the receiver goes on.
        for junk in (b"not json", b"[1, 2]", json.dumps({"id": "x"}).encode()):
            bad = client.post(url, content=junk, headers=signed(junk))
            assert bad.status_code == 400, bad.text
        later = paid_event()
        assert client.post(url, content=later, headers=signed(later)).text == "applied"

    rows = sqlite3.connect(db).execute("SELECT event_id, type, data FROM events").fetchall()
    assert [(r[0], r[1]) for r in rows] == [
        (json.loads(body)["id"], "invoice.paid"),
        (json.loads(later)["id"], "invoice.paid"),
    ]
    assert json.loads(rows[0][2])["total"] == "99.90"


async def test_the_example_receiver_takes_real_deliveries(databases, kafka_bootstrap, namespace, tmp_path) -> None:
    url = await databases.new("notifications", "postgres", migrations_of(notifications_main.__file__))
    app = notifications_main.create_app(
        NotificationsSettings(
            database_url=url,
            kafka_bootstrap=kafka_bootstrap,
            kafka_topic_namespace=namespace,
            kafka_consumer_group=f"{namespace}notifications",
            kafka_partitions=3,
            log_json=False,
            jobs_enabled=False,
            webhook_allow_loopback=True,
            webhook_require_https=False,
        )
    )
    partner = bearer(app, "acme", "partner", kind="client")
    async with running(app) as client:
        # The receiver must be there when the endpoint is saved: start it with a placeholder
        # secret, register, restart it with the real one (as the README's steps do).
        proc, hook, db = await asyncio.to_thread(start_receiver, tmp_path, SECRET)
        r = await client.post(
            "/v1/webhooks/endpoints", json={"url": hook, "event_types": ["invoice.paid"]}, headers=partner
        )
        assert r.status_code == 201, r.text
        endpoint = r.json()
        proc.terminate()
        await asyncio.to_thread(proc.wait, 10)
        proc, hook2, db = await asyncio.to_thread(start_receiver, tmp_path, endpoint["secret"])
        r = await client.patch(f"/v1/webhooks/endpoints/{endpoint['id']}", json={"url": hook2}, headers=partner)
        assert r.status_code == 200, r.text
        try:
            await asyncio.wait_for(app.state.runtime.consumer.assigned.wait(), 30)
            producer = make_producer(kafka_bootstrap, client_id="test")
            await producer.start()
            try:
                body = paid_event()
                customer = json.loads(body)["subject"].encode()
                await producer.send_and_wait(f"{namespace}crm.billing", body, key=customer)
            finally:
                await producer.stop()

            async def applied() -> list[tuple[str, str]]:
                def read() -> list[tuple[str, str]]:
                    with sqlite3.connect(db) as conn:
                        return conn.execute("SELECT event_id, type FROM events").fetchall()

                for _ in range(300):
                    rows = await asyncio.to_thread(read)
                    if rows:
                        return rows
                    await asyncio.sleep(0.1)
                raise AssertionError("no delivery applied in 30 s")

            assert await applied() == [(json.loads(body)["id"], "invoice.paid")]
            # The receiver commits before it answers, and the service records the answer after it:
            # the delivery may still read `sending` for a moment (a loaded machine showed it).
            for _ in range(300):
                page = (
                    await client.get(f"/v1/webhooks/endpoints/{endpoint['id']}/deliveries", headers=partner)
                ).json()["items"]
                if page[0]["status"] != "sending":
                    break
                await asyncio.sleep(0.1)
            [delivery] = page
            assert delivery["status"] == "delivered" and delivery["attempts"][-1]["response_body"] == "applied"
            # A redelivery carries the same webhook-id: the receiver answers, and applies nothing twice.
            r = await client.post(f"/v1/webhooks/deliveries/{delivery['id']}/redeliver", headers=partner)
            assert r.status_code in (200, 202), r.text
            for _ in range(300):
                page = (
                    await client.get(f"/v1/webhooks/endpoints/{endpoint['id']}/deliveries", headers=partner)
                ).json()["items"]
                if len(page[0]["attempts"]) == 2 and page[0]["status"] == "delivered":
                    break
                await asyncio.sleep(0.1)
            assert page[0]["attempts"][-1]["response_body"] == "already applied"
            assert len(await applied()) == 1
        finally:
            proc.terminate()
            await asyncio.to_thread(proc.wait, 10)
