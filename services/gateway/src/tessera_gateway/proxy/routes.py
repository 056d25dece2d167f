"""Which service owns which resource under ``/api/v1`` (pure: no I/O)."""

from __future__ import annotations

import re

import orjson

from tessera_shared.events.contracts.custom_fields import CUSTOM_FIELD_OWNERS

OWNERS: dict[str, str] = {
    "customers": "customer",
    "segments": "customer",
    "contacts": "customer",
    "leads": "sales",
    "deals": "sales",
    "pipelines": "sales",
    "activities": "sales",
    "campaigns": "sales",
    "products": "sales",
    "recommendations": "sales",
    "tickets": "service-desk",
    "surveys": "service-desk",
    "kb": "service-desk",
    "sla-policies": "service-desk",
    "calendars": "service-desk",
    "invoices": "billing",
    "payments": "billing",
    "credit": "billing",
    "write-offs": "billing",
    "receivables": "billing",
    "exchange-rates": "billing",
    "loyalty-payments": "billing",
    "notifications": "notifications",
    "notification-preferences": "notifications",
    "notification-rules": "notifications",
    "email-unsubscribe": "notifications",
    "webhooks": "notifications",
}

# Bulk exports (tessera_shared.exports): POST /exports goes to the service holding the body's
# "resource"; an export's id names its resource ("deals.<uuid>"), so its status and file go to the
# same service. The customer service documents the paths (and answers 422 for a resource nobody exports).
EXPORT_OWNERS: dict[str, str] = {
    "customers": "customer",
    "contacts": "customer",
    "deals": "sales",
    "leads": "sales",
    "tickets": "service-desk",
    "invoices": "billing",
}
# An export's file is relayed chunk by chunk, never buffered (it may be hundreds of megabytes).
_EXPORT_FILE = re.compile(r"/api/v1/exports/[^/]+/file")

REPORT_OWNERS: dict[str, str] = {
    "forecast": "sales",
    "funnel": "sales",
    "sales-performance": "sales",
    "aging": "billing",
    "rollforward": "billing",
    "dso": "billing",
    "statement": "billing",
}


def owner_of(path: str) -> str | None:
    """'customers/123' -> 'customer'; 'reports/aging' -> 'billing'; unknown -> None."""
    parts = path.strip("/").split("/")
    if parts[0] == "exports":
        return EXPORT_OWNERS.get(parts[1].partition(".")[0] if len(parts) > 1 else "", "customer")
    if parts[0] == "custom-fields":  # by the id's entity, "deal.industry" (the router routes the rest)
        return CUSTOM_FIELD_OWNERS.get(parts[1].partition(".")[0]) if len(parts) > 1 else None
    if parts[0] == "reports":
        return REPORT_OWNERS.get(parts[1]) if len(parts) > 1 else None
    return OWNERS.get(parts[0])


def export_owner(body: bytes) -> str | None:
    """The service a POST /exports body goes to, by its ``resource`` (None: not one the gateway knows)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    resource = data.get("resource") if isinstance(data, dict) else None
    return EXPORT_OWNERS.get(resource) if isinstance(resource, str) else None


def streamed_file(path: str) -> bool:
    return _EXPORT_FILE.fullmatch(path) is not None
