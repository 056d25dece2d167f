"""The delivery a receiver gets, described in the OpenAPI document's ``webhooks`` section."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import FastAPI, Response
from pydantic import BaseModel, ConfigDict, Field


class DeliveredEvent(BaseModel):
    """A CloudEvents 1.0 envelope in structured JSON mode: to an admin's endpoint byte for byte what
    Kafka carries; to a partner's with the fields its data schema marks ``x-personal`` null."""

    model_config = ConfigDict(extra="allow")

    specversion: str = Field(examples=["1.0"])
    id: str
    source: str = Field(examples=["/crm/sales"])
    type: str = Field(examples=["deal.won"], description="A published event type, or webhook.test")
    time: datetime
    subject: str | None = Field(default=None, description="The customer id (the Kafka key)")
    datacontenttype: str | None = None
    dataschema: str | None = Field(default=None, description="The URL of the JSON Schema of data")
    traceparent: str | None = None
    redaction: str | None = Field(
        default=None, examples=["personal"], description="personal: the data's x-personal fields are null"
    )
    data: dict[str, Any]


HEADERS = {
    "webhook-id": "msg_...: stable across retries of one delivery",
    "webhook-timestamp": "Unix seconds of this attempt",
    "webhook-signature": "v1,<base64 HMAC-SHA256 of id.timestamp.body>; two, space-separated, after a rotation",
    "webhook-replay": "true on a replayed delivery (absent otherwise)",
}


def _header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": name != "webhook-replay",
        "description": description,
        "schema": {"type": "string"},
    }


def describe_webhooks(app: FastAPI) -> None:
    @app.webhooks.post(
        "crm-event",
        summary="A Tessera event delivered to a registered endpoint (Standard Webhooks)",
        description=(
            "POSTed to each enabled endpoint whose event_types name the event's type (or *). "
            "Verify the signature with a Standard Webhooks library and the endpoint's whsec_ secret "
            "over the raw body; answer 2xx within 10 s. Anything else is retried with the same webhook-id "
            "(about 5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h, for 3 days); 410 Gone disables the "
            "endpoint. Deduplicate by webhook-id, or by the CloudEvent's (source, id) across replays. "
            "An ordered endpoint gets one customer's events one at a time, in order."
        ),
        status_code=204,
        tags=["webhooks"],
        operation_id="receiveCrmEvent",
        responses={204: {"description": "Any 2xx: delivered"}, 410: {"description": "Gone: disable the endpoint"}},
        # Written out (no parameters of the function): a receiver's answer is not Tessera's 422.
        openapi_extra={
            "parameters": [_header(name, text) for name, text in HEADERS.items()],
            "requestBody": {
                "required": True,
                "content": {"application/cloudevents+json": {"schema": DeliveredEvent.model_json_schema()}},
            },
        },
    )
    async def crm_event() -> Response:
        return Response(status_code=204)
