"""Which service owns which resource under ``/api/v1`` (pure: no I/O)."""

from __future__ import annotations

OWNERS: dict[str, str] = {
    "customers": "customer",
    "segments": "customer",
    "leads": "sales",
    "deals": "sales",
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
    if parts[0] == "reports":
        return REPORT_OWNERS.get(parts[1]) if len(parts) > 1 else None
    return OWNERS.get(parts[0])
