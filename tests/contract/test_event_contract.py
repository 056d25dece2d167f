"""The published event contract: generated docs are fresh, valid AsyncAPI, and compatible.

The committed baseline (docs/events/baseline.json) is what consumers already read; a change
that could break one of them fails here unless it ships as a new versioned type.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka
from cloudevents.core.formats.json import JSONFormat

from tessera_shared.events import build_event
from tessera_shared.events.contracts import DealWon, LineItem
from tessera_shared.events.schemas import all_schemas, breaking_changes, compatibility_report

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "tools/asyncapi/node_modules/.bin/asyncapi"


def test_generated_docs_are_fresh() -> None:
    r = subprocess.run(
        [sys.executable, "tools/gen_events_docs.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert r.returncode == 0, f"run `make asyncapi`:\n{r.stdout}{r.stderr}"


def test_asyncapi_document_is_valid_for_the_official_cli() -> None:
    assert CLI.exists(), "the AsyncAPI CLI is missing: `make test` installs it (npm ci in tools/asyncapi)"
    env = {**os.environ, "SUPPRESS_NO_CONFIG_WARNING": "1", "NODE_ENV": "test"}
    r = subprocess.run(
        [str(CLI), "validate", "--fail-severity", "warn", "docs/asyncapi.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "is valid" in r.stdout


def test_no_breaking_change_against_the_published_baseline() -> None:
    baseline = json.loads((ROOT / "docs/events/baseline.json").read_text())
    assert compatibility_report(baseline, all_schemas()) == []


def test_every_published_type_is_in_the_baseline() -> None:
    baseline = json.loads((ROOT / "docs/events/baseline.json").read_text())
    assert set(all_schemas()) <= set(baseline), "new types: `make events-baseline` once they are published"


def test_events_parse_with_the_cloudevents_sdk() -> None:
    data = DealWon(
        deal_id=uuid.uuid4(),
        customer_id=uuid.uuid4(),
        title="Renewal",
        amount=Decimal("1200.50"),
        currency="EUR",
        line_items=[LineItem(description="Seats", quantity=Decimal("10"), unit_price=Decimal("120.05"))],
        won_at=datetime.now(UTC),
    )
    envelope = build_event(data, subject=data.customer_id, traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01")
    # Exactly what the outbox relay puts on the wire: header, key and structured value.
    message = KafkaMessage(
        headers={"content-type": b"application/cloudevents+json"},
        key=str(data.customer_id).encode(),
        value=envelope.to_json(),
    )
    event = from_kafka(message, JSONFormat())
    assert event.get_specversion() == "1.0"
    assert event.get_id() == envelope.id
    assert event.get_type() == "deal.won"
    assert event.get_source() == "/crm/sales"
    assert event.get_subject() == str(data.customer_id)
    assert event.get_time() == envelope.time
    assert event.get_extension("traceparent") == envelope.traceparent
    assert event.get_extension("partitionkey") == str(data.customer_id)
    body = event.get_data()
    assert isinstance(body, dict)
    assert body["amount"] == "1200.50"
    assert body["line_items"][0]["unit_price"] == "120.05"


def schema(properties: dict, required: list[str]) -> dict:
    return {"type": "object", "properties": properties, "required": required}


S = {"type": "string"}
INT = {"type": "integer"}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (schema({"a": S}, ["a"]), schema({"a": S, "b": {"anyOf": [S, {"type": "null"}]}}, ["a"]), []),
        (schema({"a": S, "b": S}, ["a"]), schema({"a": S}, ["a"]), ["b: removed"]),
        (schema({"a": S}, ["a"]), schema({"a": INT}, ["a"]), ["a: type changed"]),
        (schema({"a": S}, ["a"]), schema({"a": S, "c": S}, ["a", "c"]), ["c: new required field"]),
        (schema({"a": S}, ["a"]), schema({"a": S}, []), ["a: was always present, may now be missing"]),
        (schema({"k": {"enum": ["x", "y"]}}, []), schema({"k": {"enum": ["x", "y", "z"]}}, []), ["k: type changed"]),
        (
            schema({"items": {"type": "array", "items": schema({"q": S}, ["q"])}}, []),
            schema({"items": {"type": "array", "items": schema({"q": INT}, ["q"])}}, []),
            ["items[].q: type changed"],
        ),
    ],
)
def test_breaking_change_rules(old: dict, new: dict, expected: list[str]) -> None:
    assert breaking_changes(old, new) == expected


def test_a_removed_type_is_breaking() -> None:
    assert compatibility_report({"x.y": schema({}, [])}, {}) == [
        "x.y: type removed (publish a new versioned type beside it instead)"
    ]
