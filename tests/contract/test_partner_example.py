"""The partner guide's example consumer runs against the real broker and dedupes redeliveries."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tessera_shared.events import build_event
from tessera_shared.events.contracts import InvoicePaid
from tessera_shared.kafka import contract_topics, ensure_topics, make_producer

ROOT = Path(__file__).resolve().parents[2]


async def test_example_consumer_applies_each_event_once(kafka_bootstrap: str, namespace: str, tmp_path: Path) -> None:
    await ensure_topics(kafka_bootstrap, contract_topics(namespace), partitions=3)
    customer = uuid.uuid4()
    paid = build_event(
        InvoicePaid(
            invoice_id=uuid.uuid4(),
            number="INV-2026-000001",
            customer_id=customer,
            total=Decimal("99.90"),
            currency="EUR",
            paid_at=datetime.now(UTC),
        ),
        subject=customer,
    )
    producer = make_producer(kafka_bootstrap, client_id="test")
    await producer.start()
    try:
        for _ in range(2):  # the relay re-sent it
            await producer.send_and_wait(f"{namespace}crm.billing", paid.to_json(), key=str(customer).encode())
    finally:
        await producer.stop()
    store = tmp_path / "partner.db"
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "docs/examples/partner_consumer.py"),
            "--bootstrap",
            kafka_bootstrap,
            "--group",
            f"{namespace}partner",
            "--topics",
            f"{namespace}crm.billing",
            "--store",
            str(store),
            "--max-messages",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [line["applied"] for line in lines] == [True, False]
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT total, currency FROM paid_invoices").fetchall() == [("99.90", "EUR")]


async def test_example_consumer_parks_poison_messages_and_goes_on(
    kafka_bootstrap: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """Not JSON, then JSON that is no CloudEvent, then a good event: parked, parked, applied;
    the offsets are committed past the poison, so a restart does not meet it again."""
    await ensure_topics(kafka_bootstrap, contract_topics(namespace), partitions=3)
    customer = uuid.uuid4()
    key = str(customer).encode()
    paid = build_event(
        InvoicePaid(
            invoice_id=uuid.uuid4(),
            number="INV-2026-000002",
            customer_id=customer,
            total=Decimal("12.30"),
            currency="EUR",
            paid_at=datetime.now(UTC),
        ),
        subject=customer,
    )
    topic = f"{namespace}crm.billing"
    producer = make_producer(kafka_bootstrap, client_id="test")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"\xff not json {", key=key)
        await producer.send_and_wait(
            topic, json.dumps({"specversion": "1.0", "type": "invoice.paid"}).encode(), key=key
        )
        await producer.send_and_wait(topic, paid.to_json(), key=key)
    finally:
        await producer.stop()
    store = tmp_path / "partner.db"
    command = [
        sys.executable,
        str(ROOT / "docs/examples/partner_consumer.py"),
        "--bootstrap",
        kafka_bootstrap,
        "--group",
        f"{namespace}partner",
        "--topics",
        topic,
        "--store",
        str(store),
    ]
    r = subprocess.run([*command, "--max-messages", "3"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [line.get("parked", False) for line in lines] == [True, True, False], lines
    assert lines[0]["error"].startswith("Poison: not JSON")
    assert "missing id, source" in lines[1]["error"]
    assert lines[2]["applied"] is True
    assert '"parked_total": 2' in r.stderr
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT total FROM paid_invoices").fetchall() == [("12.30",)]
        parked = db.execute("SELECT topic, offset, value FROM parked ORDER BY offset").fetchall()
    assert [(t, v[:4]) for t, _, v in parked] == [(topic, b"\xff no"), (topic, b'{"sp')]
    # Restarted: nothing left at those offsets, it does not wedge.
    again = subprocess.run([*command, "--exit-when-idle"], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""
