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
OPEN_INVOICE_STATUSES = frozenset({"issued", "partially_paid", "overdue"})
RECENT = 10


def fetches(customer_id: uuid.UUID) -> dict[str, Fetch]:
    c = f"/v1/customers/{customer_id}"
    mine = {"customer_id": str(customer_id)}
    return {
        "profile": Fetch("customer", c),
        "contacts": Fetch("customer", f"{c}/contacts", {"limit": 50}),
        "consents": Fetch("customer", f"{c}/consents"),
        "churn": Fetch("customer", f"{c}/churn-risk"),
        "loyalty": Fetch("customer", f"{c}/loyalty"),
        "timeline": Fetch("customer", f"{c}/timeline", {"limit": 20}),
        "surveys": Fetch("customer", f"{c}/timeline", {"limit": 1, "kind": "survey.answered"}),
        "deals": Fetch("sales", "/v1/deals", {**mine, "limit": 200}),
        "tickets": Fetch("service-desk", "/v1/tickets", {**mine, "limit": 200}),
        "invoices": Fetch("billing", "/v1/invoices", {**mine, "limit": 200}),
        "credit": Fetch("billing", f"/v1/credit/{customer_id}"),
        "aging": Fetch("billing", "/v1/reports/aging", mine),
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


def service_section(tickets: Result, surveys: Result) -> dict[str, Any]:
    items = _items(tickets)
    last = _items(surveys)
    return {
        "open_tickets": [t for t in items if t["status"] in OPEN_TICKET_STATUSES],
        "recent_tickets": sorted(items, key=lambda t: t["updated_at"], reverse=True)[:RECENT],
        "escalated": sum(1 for t in items if t.get("escalation_level", 0) > 0),
        "last_csat": last[0].get("data", {}).get("csat") if last else None,
        "truncated": _truncated(tickets),
    }


def billing_section(invoices: Result, credit: Result, aging: Result) -> dict[str, Any]:
    items = _items(invoices)
    open_items = [i for i in items if i["status"] in OPEN_INVOICE_STATUSES]
    return {
        "open_invoices": open_items,
        "recent_invoices": sorted(items, key=lambda i: i["issue_date"], reverse=True)[:RECENT],
        "balance": sum_by_currency(open_items, "balance_due"),
        "overdue_amount": sum_by_currency([i for i in open_items if i["status"] == "overdue"], "balance_due"),
        "credit": credit.body if credit.status == "ok" else None,
        "aging": aging.body if aging.status == "ok" else None,
        "truncated": _truncated(invoices),
    }


SECTION_OF = {
    "profile": "profile", "contacts": "profile", "consents": "profile", "churn": "profile", "loyalty": "loyalty",
    "timeline": "timeline", "surveys": "timeline", "deals": "sales", "tickets": "service",
    "invoices": "billing", "credit": "billing", "aging": "billing",
}


def compose(customer_id: uuid.UUID, results: Mapping[str, Result]) -> dict[str, Any]:
    profile = results["profile"]
    body: dict[str, Any] = {
        "customer_id": str(customer_id),
        "profile": profile.body if profile.status == "ok" else None,
        "contacts": _items(results["contacts"]),
        "consents": results["consents"].body if results["consents"].status == "ok" else None,
        "churn_risk": results["churn"].body if results["churn"].status == "ok" else None,
        "loyalty": results["loyalty"].body if results["loyalty"].status == "ok" else None,
        "timeline": _items(results["timeline"]),
        "sales": sales_section(results["deals"]),
        "service": service_section(results["tickets"], results["surveys"]),
        "billing": billing_section(results["invoices"], results["credit"], results["aging"]),
    }
    # Per section: the worst status of the fetches behind it (ok < forbidden < error < ...).
    order = ["ok", "not_found", "forbidden", "error", "timeout", "unavailable"]
    sections: dict[str, str] = {}
    for name, result in results.items():
        section = SECTION_OF[name]
        status = result.status if result.status != "not_found" or name == "profile" else "ok"
        if section not in sections or order.index(status) > order.index(sections[section]):
            sections[section] = status
    body["sections"] = sections
    return body
