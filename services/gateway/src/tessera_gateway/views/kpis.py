"""The KPI scorecard: the few numbers management reads, composed from the services' reports
for one period (pure composition; the fetching is the shared section fetcher's)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tessera_gateway.views.compose import Fetch, Result


def _at(day: date) -> str:
    return datetime.combine(day, time(0), tzinfo=UTC).isoformat()


def fetches(start: date, end: date) -> dict[str, Fetch]:
    """``end`` is inclusive; the services take half-open intervals of instants."""
    after = end + timedelta(days=1)
    instants = {"since": _at(start), "until": _at(after)}
    return {
        "retention": Fetch("customer", "/v1/customers/reports/retention", instants),
        "sales": Fetch(
            "sales", "/v1/reports/sales-performance", {"since": start.isoformat(), "until": end.isoformat()}
        ),
        "campaigns": Fetch("sales", "/v1/campaigns", {"limit": 50}),
        "sla": Fetch("service-desk", "/v1/tickets/reports/sla-compliance", instants),
        "satisfaction": Fetch(
            "service-desk", "/v1/tickets/reports/satisfaction", {**instants, "group_by": "period", "period": "month"}
        ),
        "fcr": Fetch("service-desk", "/v1/tickets/reports/first-contact-resolution", instants),
        "dso": Fetch("billing", "/v1/reports/dso", {"as_of": end.isoformat(), "days": min((after - start).days, 366)}),
    }


def roi_fetches(campaigns: Result) -> dict[str, Fetch]:
    items = campaigns.body.get("items", []) if campaigns.status == "ok" and isinstance(campaigns.body, dict) else []
    return {f"roi:{c['id']}": Fetch("sales", f"/v1/campaigns/{c['id']}/roi") for c in items}


def weighted(rows: list[Mapping[str, Any]], value: str, weight: str) -> float | None:
    pairs = [(r[value], r[weight]) for r in rows if r.get(value) is not None and r.get(weight)]
    total = sum(w for _, w in pairs)
    return round(sum(v * w for v, w in pairs) / total, 2) if total else None


def compose(start: date, end: date, results: Mapping[str, Result]) -> dict[str, Any]:
    def body(name: str) -> dict[str, Any]:
        r = results.get(name)
        return r.body if r is not None and r.status == "ok" and isinstance(r.body, dict) else {}

    retention, sales, sla, fcr = body("retention"), body("sales"), body("sla"), body("fcr")
    months = body("satisfaction").get("rows", [])
    cycle = sales.get("average_cycle_seconds")
    win_rate = sales.get("win_rate")  # already a percentage
    campaigns = {c["id"]: c for c in body("campaigns").get("items", [])}
    roi = [
        {
            "campaign_id": cid.removeprefix("roi:"),
            "name": campaigns.get(cid.removeprefix("roi:"), {}).get("name"),
            "by_currency": r.body.get("by_currency", []),
        }
        for cid, r in results.items()
        if cid.startswith("roi:") and r.status == "ok" and isinstance(r.body, dict)
    ]
    kpis = {
        "retention_rate_percent": retention.get("retention_rate_percent"),
        "churn_rate_percent": retention.get("churn_rate_percent"),
        "customer_lifetime_value": (
            {"amount": retention["average_lifetime_value"], "currency": retention["value_currency"]}
            if retention
            else None
        ),
        "csat_percent": weighted(months, "csat_pct", "answered"),
        "nps": weighted(months, "nps", "nps_answers"),
        "sla_compliance_percent": sla.get("compliance_pct"),
        "first_contact_resolution_percent": fcr.get("rate_pct"),
        "win_rate_percent": win_rate,
        "average_sales_cycle_days": round(cycle / 86_400, 1) if cycle is not None else None,
        "dso_days": [{"currency": d["currency"], "days": d["dso_days"]} for d in body("dso").get("currencies", [])],
        "campaign_roi": roi,
    }
    sections: dict[str, str] = {}
    for name, result in results.items():
        key = "campaign_roi" if name.startswith("roi:") or name == "campaigns" else name
        if sections.get(key, "ok") == "ok":
            sections[key] = result.status
    return {"period": {"from": start.isoformat(), "to": end.isoformat()}, "kpis": kpis, "sections": sections}
