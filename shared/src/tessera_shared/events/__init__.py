"""CloudEvents 1.0 envelope and the typed event contracts the services publish."""

from tessera_shared.events.envelope import (
    CloudEvent,
    EventData,
    build_event,
    dlq_topic_for,
    event_model,
    parse_envelope,
    registered_event_types,
    topic_for,
)

__all__ = [
    "CloudEvent",
    "EventData",
    "build_event",
    "dlq_topic_for",
    "event_model",
    "parse_envelope",
    "registered_event_types",
    "topic_for",
]
