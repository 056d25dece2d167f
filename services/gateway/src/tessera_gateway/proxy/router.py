"""Forwarding of ``/api/v1/*`` to the owning service with the caller's token and request id."""

from __future__ import annotations

import asyncio
import uuid

import httpx2
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from tessera_gateway.audit import service as audit
from tessera_gateway.audit.service import customer_of, reads_personal_data
from tessera_gateway.proxy.routes import owner_of
from tessera_shared.auth import CurrentPrincipal
from tessera_shared.http.errors import Problem
from tessera_shared.observability import current_traceparent, request_id_var

router = APIRouter()

FORWARDED_REQUEST_HEADERS = (
    "authorization", "content-type", "accept", "idempotency-key", "if-match", "if-none-match",
    "accept-language",
)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authenticate", "proxy-authorization", "content-length", "content-encoding",
              "x-request-id", "server", "date"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
IMPORT_PATH = "/api/v1/customers/import"
RETRIES = 2


async def forward(request: Request, service: str, path: str) -> Response:
    client: httpx2.AsyncClient = request.app.state.clients[service]
    base = request.app.state.upstreams[service]
    headers = {k: v for k, v in request.headers.items() if k in FORWARDED_REQUEST_HEADERS}
    headers["x-request-id"] = request_id_var.get() or ""
    if tp := current_traceparent():
        headers["traceparent"] = tp
    body = await request.body()
    long_running = request.url.path == IMPORT_PATH
    upstream = client.build_request(
        request.method, f"{base}/v1/{path}", params=request.query_params.multi_items(),
        headers=headers, content=body,
        timeout=request.app.state.settings.import_timeout if long_running else httpx2.USE_CLIENT_DEFAULT,
    )
    attempt = 0
    while True:
        try:
            resp = await client.send(upstream)
            break
        except (httpx2.ConnectError, httpx2.ConnectTimeout) as exc:
            # Not connected means not sent: a retry cannot apply a write twice.
            attempt += 1
            if attempt > RETRIES:
                raise Problem(503, f"the {service} service is unavailable", slug="upstream-unavailable",
                              service=service) from exc
        except httpx2.TimeoutException as exc:
            attempt += 1
            if request.method not in SAFE_METHODS or attempt > RETRIES:
                raise Problem(504, f"the {service} service did not answer in time", slug="upstream-timeout",
                              service=service) from exc
        except httpx2.TransportError as exc:
            attempt += 1
            if request.method not in SAFE_METHODS or attempt > RETRIES:
                raise Problem(502, f"the {service} service failed to answer", slug="upstream-error",
                              service=service) from exc
        await asyncio.sleep(0.05 * attempt)
    out_headers = {k: v for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP}
    return Response(content=resp.content, status_code=resp.status_code, headers=out_headers)


def customers_named(path: str, response: Response) -> list[str]:
    """The customers a write names: in its path, or as the ``customer_id`` of what it answers."""
    named = [c] if (c := customer_of(path)) else []
    if response.headers.get("content-type", "").startswith("application/json") and len(response.body) < 65_536:
        try:
            body = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            return named
        if isinstance(body, dict) and isinstance(body.get("customer_id"), str):
            named.append(body["customer_id"])
    return named


@router.get("/api/v1/surveys/{survey_id}", include_in_schema=False)
@router.post("/api/v1/surveys/{survey_id}/answer", include_in_schema=False)
async def forward_survey_link(survey_id: uuid.UUID, request: Request) -> Response:
    """Survey links reach customers, who have no account: the link's token is the credential,
    checked by the service desk. Staff may still come with their bearer token."""
    if "token" not in request.query_params and "authorization" not in request.headers:
        raise Problem(401, "a survey link token or a bearer token is required",
                      headers={"WWW-Authenticate": "Bearer"})
    caller = request.client.host if request.client else "unknown"
    wait = request.app.state.rate_limits.take(f"survey-link:{caller}")
    if wait:
        raise Problem(429, "too many requests", slug="rate-limited", headers={"Retry-After": str(int(wait) + 1)})
    return await forward(request, "service-desk", request.url.path.removeprefix("/api/v1/"))


@router.api_route(
    "/api/v1/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def forward_to_owner(path: str, request: Request, principal: CurrentPrincipal) -> Response:
    # The token is checked here too, so anonymous traffic never reaches the services.
    wait = request.app.state.rate_limits.take(principal.subject)
    if wait:
        raise Problem(429, "rate limit exceeded for this token", slug="rate-limited",
                      headers={"Retry-After": str(int(wait) + 1)})
    service = owner_of(path)
    if service is None:
        raise Problem(404, f"no resource at /api/v1/{path}")
    response = await forward(request, service, path)
    if request.method not in SAFE_METHODS and response.status_code < 400 and request.app.state.views is not None:
        request.app.state.views.after_write(principal.subject, customers_named(path, response))
    if reads_personal_data(request.method, path):
        audit.record(request.app.state.runtime, principal, request.method, path,
                           response.status_code)
    return response
