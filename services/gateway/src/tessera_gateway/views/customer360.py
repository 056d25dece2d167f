"""The customer 360 view: one call, every service's picture of one customer (docs/domain.md §5.1).

Fetched concurrently under one deadline; a section whose service is slow or down is
reported by status and left empty, the rest is served. Each service answers its part in one
read with its own rules and figures (which deals are open, pipeline and lifetime won rounded
to each currency's minor unit, balances, overdue); this module only puts the parts together.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from tessera_gateway.views.compose import Fetch, Result


def fetches(customer_id: uuid.UUID) -> dict[str, Fetch]:
    return {
        # One read for the customer part: profile, contacts, consents, churn, loyalty, timeline.
        "customer": Fetch("customer", f"/v1/customers/{customer_id}/summary"),
        # One read each for the sales and the service part (internal routes: not under /api/v1).
        "sales": Fetch("sales", f"/v1/customers/{customer_id}/sales-summary"),
        "service": Fetch("service-desk", f"/v1/customers/{customer_id}/service-summary"),
        # One read for the billing part: open and recent invoices, balances, ageing, credit.
        "billing": Fetch("billing", f"/v1/receivables/{customer_id}"),
    }


def _part(result: Result) -> dict[str, Any]:
    return result.body if result.status == "ok" and isinstance(result.body, dict) else {}


def sales_section(summary: Result) -> dict[str, Any]:
    """Sales computes the figures over all the caller's deals of the customer (the list stops at 200)."""
    part = _part(summary)
    return {
        "open_deals": part.get("open_deals", []),
        "recent_deals": part.get("recent_deals", []),
        "pipeline_value": part.get("pipeline_value", []),
        "weighted_pipeline": part.get("weighted_pipeline", []),
        "lifetime_won": part.get("lifetime_won", []),
        "truncated": part.get("truncated", False),
    }


def service_section(summary: Result) -> dict[str, Any]:
    part = _part(summary)
    return {
        "open_tickets": part.get("open_tickets", []),
        "recent_tickets": part.get("recent_tickets", []),
        "escalated": part.get("escalated", 0),
        "last_csat": part.get("last_csat"),
        "truncated": part.get("truncated", False),
    }


def billing_section(receivables: Result) -> dict[str, Any]:
    """Billing computes the figures over all open invoices (the lists stop at 200 and 10)."""
    part = _part(receivables)
    return {
        "open_invoices": part.get("open_invoices", []),
        "recent_invoices": part.get("recent_invoices", []),
        "balance": part.get("balance", []),
        "overdue_amount": part.get("overdue_amount", []),
        "customer_credit": part.get("customer_credit", []),
        "credit": part.get("credit"),
        "aging": part.get("aging"),
        "truncated": part.get("truncated", False),
    }


SECTIONS_OF = {
    "customer": ("profile", "loyalty", "timeline"),
    "sales": ("sales",),
    "service": ("service",),
    "billing": ("billing",),
}
_ORDER = ["ok", "not_found", "forbidden", "error", "timeout", "unavailable"]


def compose(customer_id: uuid.UUID, results: Mapping[str, Result]) -> dict[str, Any]:
    part = _part(results["customer"])
    body: dict[str, Any] = {
        "customer_id": str(customer_id),
        "profile": part.get("profile"),
        "contacts": part.get("contacts", []),
        "consents": part.get("consents"),
        "churn_risk": part.get("churn_risk"),
        "loyalty": part.get("loyalty"),
        "timeline": part.get("timeline", []),
        "sales": sales_section(results["sales"]),
        "service": service_section(results["service"]),
        "billing": billing_section(results["billing"]),
    }
    # Per section: the worst status of the fetches behind it (ok < forbidden < error < ...).
    sections: dict[str, str] = {}
    for name, result in results.items():
        status = result.status if result.status != "not_found" or name == "customer" else "ok"
        for section in SECTIONS_OF[name]:
            if section not in sections or _ORDER.index(status) > _ORDER.index(sections[section]):
                sections[section] = status
    body["sections"] = sections
    return body
