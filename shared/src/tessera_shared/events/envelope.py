"""The CloudEvents 1.0 envelope in structured JSON mode, and the registry of event types."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

CONTENT_TYPE = "application/cloudevents+json"
SERVICES = ("customer", "sales", "service-desk", "billing", "notifications")
# Who publishes facts: the services, and the gateway (its API keys, on a compacted topic).
PRODUCERS = (*SERVICES, "gateway")
# Topics that keep the latest event of each key for good (cleanup.policy=compact).
COMPACTED_PRODUCERS = frozenset({"gateway"})

_registry: dict[str, type[EventData]] = {}


class EventData(BaseModel):
    """Base of every event's ``data``. Subclasses name their ``event_type`` and are registered.

    Consumers are tolerant readers: fields they do not know are ignored, so a producer may
    add optional fields without breaking anyone (the compatibility gate enforces the rest).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    producer: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        event_type = cls.__dict__.get("event_type")
        if event_type:
            if event_type in _registry and _registry[event_type] is not cls:
                raise TypeError(f"event type {event_type!r} registered twice")
            _registry[event_type] = cls


def registered_event_types() -> dict[str, type[EventData]]:
    return dict(_registry)


def event_model(event_type: str) -> type[EventData] | None:
    return _registry.get(event_type)


def topic_for(service: str, namespace: str = "") -> str:
    return f"{namespace}crm.{service}"


def dlq_topic_for(service: str, namespace: str = "") -> str:
    return f"{namespace}crm.{service}.dlq"


# Where the gateway serves each type's JSON Schema, without a token.
SCHEMA_PATH = "/api/v1/events/schemas/"
DEFAULT_PUBLIC_GATEWAY_URL = "http://127.0.0.1:8000"
PUBLIC_GATEWAY_URL_ENV = "TESSERA_PUBLIC_GATEWAY_URL"


def public_gateway_url() -> str:
    """The gateway as partners reach it (``TESSERA_PUBLIC_GATEWAY_URL``, one value for every
    process: producers write it into ``dataschema``, the gateway into each schema's ``$id``)."""
    return (os.environ.get(PUBLIC_GATEWAY_URL_ENV) or DEFAULT_PUBLIC_GATEWAY_URL).rstrip("/")


def dataschema_for(event_type: str, base_url: str | None = None) -> str:
    """The absolute URL of the type's JSON Schema (CloudEvents' ``dataschema`` is a URI)."""
    return f"{(base_url or public_gateway_url()).rstrip('/')}{SCHEMA_PATH}{event_type}"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope. Unknown attributes are kept: they are extensions."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime
    subject: str | None = None
    datacontenttype: str = "application/json"
    dataschema: str | None = None
    traceparent: str | None = None
    data: dict[str, Any]

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time must carry a timezone")
        return value.astimezone(UTC)

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", exclude_none=True))

    def typed_data(self) -> EventData:
        model = event_model(self.type)
        if model is None:
            raise LookupError(f"unknown event type {self.type!r}")
        return model.model_validate(self.data)


def parse_envelope(raw: bytes | str) -> CloudEvent:
    return CloudEvent.model_validate_json(raw)


def build_event(
    data: EventData,
    *,
    subject: str | uuid.UUID | None,
    traceparent: str | None = None,
    event_id: uuid.UUID | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    return CloudEvent(
        id=str(event_id or uuid.uuid4()),
        source=f"/crm/{data.producer}",
        type=data.event_type,
        time=time or datetime.now(UTC),
        subject=str(subject) if subject is not None else None,
        dataschema=dataschema_for(data.event_type),
        traceparent=traceparent,
        data=data.model_dump(mode="json"),
    )
