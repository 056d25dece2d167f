"""The partner guide's example webhook receiver (docs/examples/webhook_receiver/receiver.py), run as
its own process: it verifies signatures with the Standard Webhooks library, applies a delivery
once however often it comes, answers 400 to a bad signature or a bad payload and keeps running."""

from __future__ import annotations

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

from tessera_shared.events import build_event
from tessera_shared.events.contracts import InvoicePaid

ROOT = Path(__file__).resolve().parents[2]
RECEIVER = ROOT / "docs/examples/webhook_receiver/receiver.py"
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port, db = free_port(), tmp_path / "received.sqlite"
    proc = subprocess.Popen(
        [sys.executable, str(RECEIVER), "--port", str(port), "--db", str(db)],
        env={**os.environ, "WEBHOOK_SECRET": SECRET},
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
