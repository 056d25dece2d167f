from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from tessera_shared.events import CloudEvent, build_event, parse_envelope, registered_event_types, topic_for
from tessera_shared.events.contracts import CustomerCreated


def created(**kw: object) -> CustomerCreated:
    base = dict(
        customer_id=uuid.uuid4(),
        kind="person",
        name="Ada",
        email="ada@example.com",
        owner_id=None,
        status="prospect",
        created_at=datetime.now(UTC),
    )
    return CustomerCreated(**{**base, **kw})


def test_envelope_round_trips_through_json() -> None:
    data = created()
    event = build_event(data, subject=data.customer_id, traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    parsed = parse_envelope(event.to_json())
    assert parsed == event
    assert parsed.typed_data() == data
    assert parsed.source == "/crm/customer"
    assert parsed.type == "customer.created"
    assert parsed.subject == str(data.customer_id)
    assert parsed.datacontenttype == "application/json"


def test_time_is_normalised_to_utc() -> None:
    event = build_event(created(), subject="x", time=datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))))
    assert event.time == datetime(2026, 1, 1, 10, tzinfo=UTC)


def test_naive_time_is_refused() -> None:
    raw = build_event(created(), subject="x").model_dump(mode="json")
    raw["time"] = "2026-01-01T10:00:00"
    with pytest.raises(ValidationError):
        CloudEvent.model_validate(raw)


def test_extensions_are_kept() -> None:
    raw = build_event(created(), subject="x").model_dump(mode="json") | {"partitionkey": "abc"}
    assert parse_envelope(CloudEvent.model_validate(raw).to_json()).model_extra == {"partitionkey": "abc"}


def test_consumers_ignore_fields_they_do_not_know() -> None:
    data = created()
    event = build_event(data, subject="x")
    event.data["added_in_a_later_version"] = 1
    assert event.typed_data() == data


def test_invalid_data_is_refused() -> None:
    event = build_event(created(), subject="x")
    event.data["kind"] = "robot"
    with pytest.raises(ValidationError):
        event.typed_data()


def test_unknown_type_cannot_be_typed() -> None:
    event = build_event(created(), subject="x").model_copy(update={"type": "nobody.knows"})
    with pytest.raises(LookupError):
        event.typed_data()


def test_registry_and_topics() -> None:
    assert registered_event_types()["customer.created"] is CustomerCreated
    assert topic_for("service-desk") == "crm.service-desk"
    assert topic_for("billing", "t1.") == "t1.crm.billing"


@pytest.mark.parametrize("subject", [None, "c-1"])
@pytest.mark.parametrize("traceparent", [None, "00-" + "a" * 32 + "-" + "b" * 16 + "-01"])
@pytest.mark.parametrize(
    "time",
    [
        datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 13, 5, 7, 120034, tzinfo=timezone(timedelta(hours=1))),
    ],
)
def test_outbox_rows_envelope_is_build_events_json(
    subject: str | None, traceparent: str | None, time: datetime
) -> None:
    """outbox_row writes the envelope without the CloudEvent model: the very bytes build_event's
    to_json gives (None members left out at the top, kept inside data; times in UTC)."""
    from tessera_shared.outbox import envelope_json

    data = created(owner_id=None, email=None, custom_fields={"note": "\u00fc \u2028", "n": None}, created_at=time)
    event_id = uuid.uuid4()
    made = build_event(data, subject=subject, traceparent=traceparent, event_id=event_id, time=time)
    written = envelope_json(data, subject=subject, traceparent=traceparent, event_id=event_id, time=time)
    assert written == made.to_json()
    assert b'"owner_id":null' in written and (b'"subject"' in written) == (subject is not None)
