"""The customer 360 view: one call, every service's picture of one customer (DOMAIN.md §5).

Fetched concurrently under one deadline; a section whose service is slow or down is
reported by status and left empty, the rest is served. Derived figures (pipeline value,
lifetime won, balance, overdue) are computed here by pure functions from what arrived.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from tessera_gateway.views.compose import Fetch, Result

OPEN_DEAL_STAGES = frozenset({"prospecting", "qualification", "proposal", "negotiation"})
OPEN_TICKET_STATUSES = frozenset({"new", "open", "pending", "on_hold"})
RECENT = 10


def fetches(customer_id: uuid.UUID) -> dict[str, Fetch]:
    mine = {"customer_id": str(customer_id)}
    return {
        # One read for the customer part: profile, contacts, consents, churn, loyalty, timeline.
        "customer": Fetch("customer", f"/v1/customers/{customer_id}/summary"),
        "deals": Fetch("sales", "/v1/deals", {**mine, "limit": 200}),
        "tickets": Fetch("service-desk", "/v1/tickets", {**mine, "limit": 200}),
        # One read for the billing part: open and recent invoices, balances, ageing, credit.
        "billing": Fetch("billing", f"/v1/receivables/{customer_id}"),
    }


def sum_by_currency(items: Iterable[Mapping[str, Any]], field: str, weight: str | None = None) -> list[dict[str, str]]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for item in items:
        amount = Decimal(str(item[field]))
        if weight:
            amount = amount * Decimal(item[weight]) / 100
        totals[item["currency"]] += amount
    return [{"currency": cur, "amount": str(total.quantize(Decimal("0.01")))} for cur, total in sorted(totals.items())]


def _items(result: Result) -> list[dict[str, Any]]:
    if result.status != "ok" or not isinstance(result.body, dict):
        return []
    return list(result.body.get("items", []))


def _truncated(result: Result) -> bool:
    return result.status == "ok" and isinstance(result.body, dict) and result.body.get("next_cursor") is not None


def sales_section(deals: Result) -> dict[str, Any]:
    items = _items(deals)
    open_deals = [d for d in items if d["stage"] in OPEN_DEAL_STAGES]
    won = [d for d in items if d["stage"] == "won"]
    return {
        "open_deals": open_deals,
        "recent_deals": sorted(items, key=lambda d: d["updated_at"], reverse=True)[:RECENT],
        "pipeline_value": sum_by_currency(open_deals, "amount"),
        "weighted_pipeline": sum_by_currency(open_deals, "amount", weight="probability"),
        "lifetime_won": sum_by_currency(won, "amount"),
        "truncated": _truncated(deals),
    }


def service_section(tickets: Result, last_csat: int | None) -> dict[str, Any]:
    items = _items(tickets)
    return {
        "open_tickets": [t for t in items if t["status"] in OPEN_TICKET_STATUSES],
        "recent_tickets": sorted(items, key=lambda t: t["updated_at"], reverse=True)[:RECENT],
        "escalated": sum(1 for t in items if t.get("escalation_level", 0) > 0),
        "last_csat": last_csat,
        "truncated": _truncated(tickets),
    }


def billing_section(receivables: Result) -> dict[str, Any]:
    """Billing computes the figures over all open invoices (the lists stop at 200 and 10)."""
    part = receivables.body if receivables.status == "ok" and isinstance(receivables.body, dict) else {}
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
    "deals": ("sales",),
    "tickets": ("service",),
    "billing": ("billing",),
}
_ORDER = ["ok", "not_found", "forbidden", "error", "timeout", "unavailable"]


def compose(customer_id: uuid.UUID, results: Mapping[str, Result]) -> dict[str, Any]:
    customer = results["customer"]
    part: dict[str, Any] = customer.body if customer.status == "ok" and isinstance(customer.body, dict) else {}
    body: dict[str, Any] = {
        "customer_id": str(customer_id),
        "profile": part.get("profile"),
        "contacts": part.get("contacts", []),
        "consents": part.get("consents"),
        "churn_risk": part.get("churn_risk"),
        "loyalty": part.get("loyalty"),
        "timeline": part.get("timeline", []),
        "sales": sales_section(results["deals"]),
        "service": service_section(results["tickets"], part.get("last_csat")),
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
