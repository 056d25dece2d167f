"""Composed resources served by the gateway itself."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from tessera_gateway.audit import service as audit
from tessera_gateway.views import customer360, kpis
from tessera_gateway.views.compose import Fetch, fetch_all
from tessera_shared.auth import STAFF_ROLES, Principal, Role, require_roles
from tessera_shared.http.errors import Problem

router = APIRouter(prefix="/api/v1", tags=["views"])


def _etag(body: dict[str, Any]) -> str:
    # The churn score's evaluation time changes on every call; the picture itself does not.
    stable = {**body, "churn_risk": {k: v for k, v in (body.get("churn_risk") or {}).items() if k != "as_of"}}
    return 'W/"' + hashlib.sha256(orjson.dumps(stable, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32] + '"'


@router.get(
    "/customers/{customer_id}/360",
    summary="Customer 360: profile, sales, service, billing and timeline in one answer",
    description="Every section is fetched concurrently under one deadline; `sections` says, per section, "
    "`ok`, `forbidden`, `error`, `timeout` or `unavailable`. A section that could not be fetched is empty.",
    responses={404: {"description": "unknown customer"}, 304: {"description": "not modified"}},
)
async def customer_360(
    customer_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, require_roles(*STAFF_ROLES)],
) -> Response:
    settings = request.app.state.settings
    results = await fetch_all(
        request.app.state.clients, request.app.state.upstreams, customer360.fetches(customer_id),
        authorization=request.headers["authorization"], deadline=settings.view_deadline_seconds,
    )
    if results["customer"].status == "not_found":
        raise Problem(404, f"customer {customer_id} not found")
    body = customer360.compose(customer_id, results)
    etag = _etag(body)
    audit.record(request.app.state.runtime, principal, "GET", f"customers/{customer_id}/360", 200)
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(orjson.dumps(body), media_type="application/json", headers={"ETag": etag})


@router.get(
    "/customers/{customer_id}/export",
    summary="Data-subject export: everything every service holds about one customer",
    description="Composed from each service's own export. `sections` says which services answered; "
    "a missing section means the export is incomplete and should be retried.",
)
async def data_subject_export(
    customer_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, require_roles(Role.ADMIN)],
) -> dict[str, Any]:
    fetches = {
        "customer": Fetch("customer", f"/v1/customers/{customer_id}/export"),
        **{s: Fetch(s, f"/v1/data-subjects/{customer_id}/export") for s in ("sales", "service-desk", "billing")},
    }
    results = await fetch_all(request.app.state.clients, request.app.state.upstreams, fetches,
                              authorization=request.headers["authorization"],
                              deadline=request.app.state.settings.export_deadline_seconds)
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
async def kpi_scorecard(
    request: Request,
    _: Annotated[Principal, require_roles(Role.SALES_MANAGER, Role.FINANCE_MANAGER)],
    from_: Annotated[date, Query(alias="from")],
    to: date,
) -> dict[str, Any]:
    if to < from_ or (to - from_).days > 366:
        raise Problem(422, "`to` must be on or after `from`, within a year", slug="validation-error",
                      errors=[{"field": "to", "location": "query", "message": "must be on or after from, within 366 days"}])
    deadline = request.app.state.settings.view_deadline_seconds
    started = time.monotonic()
    common = {"authorization": request.headers["authorization"]}
    results = await fetch_all(request.app.state.clients, request.app.state.upstreams, kpis.fetches(from_, to),
                              deadline=deadline, **common)
    remaining = deadline - (time.monotonic() - started)
    roi = kpis.roi_fetches(results["campaigns"])
    if roi and remaining > 0.05:
        results.update(await fetch_all(request.app.state.clients, request.app.state.upstreams, roi,
                                       deadline=remaining, **common))
    return kpis.compose(from_, to, results)
