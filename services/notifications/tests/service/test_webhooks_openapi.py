"""The delivery a receiver gets is in the service's OpenAPI ``webhooks`` section, and the
gateway's composed document keeps it (as ``x-webhooks`` in its OpenAPI 3.0 rendering)."""

from __future__ import annotations

from tessera_gateway.views.openapi import merge, to_openapi_30
from tessera_notifications.main import create_app
from tessera_notifications.settings import NotificationsSettings


def test_the_delivery_is_described_and_the_gateway_keeps_it() -> None:
    doc = create_app(NotificationsSettings(kafka_enabled=False, database_url="sqlite+aiosqlite://")).openapi()
    delivery = doc["webhooks"]["crm-event"]["post"]
    headers = {p["name"]: p["required"] for p in delivery["parameters"] if p["in"] == "header"}
    assert headers == {
        "webhook-id": True,
        "webhook-timestamp": True,
        "webhook-signature": True,
        "webhook-replay": False,
    }
    body = delivery["requestBody"]["content"]["application/cloudevents+json"]["schema"]
    assert {"id", "source", "type", "time", "data"} <= set(body["required"])
    assert "422" not in delivery["responses"]

    own = {"openapi": "3.1.0", "info": {"title": "gateway", "version": "1"}, "paths": {}, "components": {}}
    merged = merge(own, {"notifications": doc})
    assert merged["webhooks"]["crm-event"]["post"]["operationId"] == "receiveCrmEvent"
    assert "/api/v1/webhooks/endpoints" in merged["paths"]
    assert to_openapi_30(merged)["x-webhooks"]["crm-event"] == merged["webhooks"]["crm-event"]
