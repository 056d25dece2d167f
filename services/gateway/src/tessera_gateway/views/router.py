"""Composed resources served by the gateway itself."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from prometheus_client import Counter

from tessera_gateway.audit import service as audit
from tessera_gateway.teams.scope import team_scope_headers
from tessera_gateway.views import customer360, kpis
from tessera_gateway.views.cache import ViewCache, Views
from tessera_gateway.views.compose import Fetch, fetch_all
from tessera_gateway.views.schemas import Customer360
from tessera_shared.auth import STAFF_ROLES, Principal, Role, require_roles
from tessera_shared.errors import InvalidInput
from tessera_shared.http.errors import Problem
from tessera_shared.http.inputs import IsoDate
from tessera_shared.http.renamed import formerly

router = APIRouter(prefix="/api/v1", tags=["views"])

VIEW_CACHE_ANSWERS = Counter(
    "tessera_view_cache_answers_total",
    "360 views by how they were answered (hit, fwd=miss, fwd=request) and whether kept",
    ["result", "stored"],
)


def _etag(body: dict[str, Any]) -> str:
    # The churn score's evaluation time changes on every call; the picture itself does not.
    stable = {**body, "churn_risk": {k: v for k, v in (body.get("churn_risk") or {}).items() if k != "as_of"}}
    return 'W/"' + hashlib.sha256(orjson.dumps(stable, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32] + '"'


@router.get(
    "/customers/{customer_id}/360",
    summary="Customer 360: profile, sales, service, billing and timeline in one answer",
    description="Every section is fetched concurrently under one deadline; `sections` says, per section, "
    "`ok`, `forbidden`, `error`, `timeout` or `unavailable`. A section that could not be fetched is empty. "
    "A complete view may be answered from the gateway's view cache, which every event about the customer "
    "clears (see docs/api.md); `Cache-Status` says whether it was, and `Cache-Control: no-cache` on the "
    "request composes it afresh.",
    response_model=Customer360,
    responses={404: {"description": "unknown customer"}, 304: {"description": "not modified"}},
)
async def get_customer_360(
    customer_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, require_roles(*STAFF_ROLES)],
) -> Response:
    state = request.app.state
    views: Views | None = state.views
    customer = str(customer_id)
    asked_fresh = "no-cache" in request.headers.get("cache-control", "").lower()
    scope = await team_scope_headers(request)
    # A team lead's view depends on their teams too: kept per generation of the teams (any change
    # of a team starts a new one), not per signed value (re-signed every few minutes).
    teams = [f"teams:{state.team_scopes.generation}"] if scope else []
    key = ViewCache.key(customer, principal.subject, [*principal.roles, *teams])
    entry = views.cache.get(key) if views is not None and views.freshness.live and not asked_fresh else None
    if views is not None and entry is not None:
        body, etag, stored = entry.body, entry.etag, False
        result, detail = "hit", f"; ttl={max(0, int(views.cache.ttl - views.cache.age(entry)))}"
    else:
        # Asked fresh or not, what is composed now may replace what was stored.
        token = views.freshness.begin(customer) if views is not None else None
        try:
            results = await fetch_all(
                state.clients,
                state.upstreams,
                customer360.fetches(customer_id),
                authorization=request.headers["authorization"],
                deadline=state.settings.view_deadline_seconds,
                extra_headers=scope,
            )
        finally:
            current = views is not None and token is not None and views.freshness.end(token)
        if results["customer"].status == "not_found":
            raise Problem(404, f"customer {customer_id} not found")
        composed = customer360.compose(customer_id, results)
        etag, body = _etag(composed), orjson.dumps(composed)
        # A view with a section missing is not kept: the next call tries that service again.
        stored = current and all(s == "ok" for s in composed["sections"].values())
        if views is not None and stored:
            views.cache.put(key, body, etag)
        result, detail = ("fwd=request" if asked_fresh else "fwd=miss"), "; stored" if stored else ""
    VIEW_CACHE_ANSWERS.labels(result, "true" if stored else "false").inc()
    audit.record(state.runtime, principal, "GET", f"customers/{customer_id}/360", 200)
    # RFC 9211's Cache-Status says how the answer was made; private: personal data, no shared caches.
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Cache-Status": f"tessera-gateway; {result}{detail}"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.get(
    "/customers/{customer_id}/export",
    summary="Data-subject export: everything every service holds about one customer",
    description="Composed from each service's own export. `sections` says which services answered; "
    "a missing section means the export is incomplete and should be retried.",
)
async def export_customer_data(
    customer_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, require_roles(Role.ADMIN)],
) -> dict[str, Any]:
    fetches = {
        "customer": Fetch("customer", f"/v1/customers/{customer_id}/export"),
        **{
            s: Fetch(s, f"/v1/data-subjects/{customer_id}/export")
            for s in ("sales", "service-desk", "billing", "notifications")
        },
    }
    results = await fetch_all(
        request.app.state.clients,
        request.app.state.upstreams,
        fetches,
        authorization=request.headers["authorization"],
        deadline=request.app.state.settings.export_deadline_seconds,
    )
    if results["customer"].status == "not_found":
        raise Problem(404, f"customer {customer_id} not found")
    audit.record(request.app.state.runtime, principal, "GET", f"customers/{customer_id}/export", 200)
    return {
        "customer_id": str(customer_id),
        "complete": all(r.status == "ok" for r in results.values()),
        "sections": {name: r.status for name, r in results.items()},
        "services": {name: r.body for name, r in results.items()},
    }


@router.get(
    "/reports/kpis",
    summary="KPI scorecard for a period: retention, churn, CLV, CSAT, NPS, SLA, FCR, win rate, DSO, campaign ROI",
    description="Composed from the services' reports; `sections` says which answered. Dates are inclusive.",
)
async def get_kpis(
    request: Request,
    _: Annotated[Principal, require_roles(Role.SALES_MANAGER, Role.FINANCE_MANAGER)],
    since: Annotated[IsoDate, Query(description=f"First day. {formerly('since')}")],
    until: Annotated[IsoDate, Query(description=f"Last day (inclusive). {formerly('until')}")],
) -> dict[str, Any]:
    if until < since or (until - since).days > 366:
        raise InvalidInput("until", "must be on or after since, within 366 days", "query")
    deadline = request.app.state.settings.view_deadline_seconds
    started = time.monotonic()
    common: dict[str, Any] = {"authorization": request.headers["authorization"]}
    results = await fetch_all(
        request.app.state.clients, request.app.state.upstreams, kpis.fetches(since, until), deadline=deadline, **common
    )
    remaining = deadline - (time.monotonic() - started)
    roi = kpis.roi_fetches(results["campaigns"])
    if roi and remaining > 0.05:
        results.update(
            await fetch_all(request.app.state.clients, request.app.state.upstreams, roi, deadline=remaining, **common)
        )
    return kpis.compose(since, until, results)
