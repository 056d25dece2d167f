"""Forwarding of ``/api/v1/*`` to the owning service with the caller's token and request id."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Iterable
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import httpx2
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from tessera_gateway.apikeys.upstream import upstream_authorization
from tessera_gateway.audit import service as audit
from tessera_gateway.audit.service import customer_of, reads_personal_data
from tessera_gateway.limits.rate import RateLimits, take_for
from tessera_gateway.proxy import custom_fields, expand
from tessera_gateway.proxy.routes import export_owner, owner_of, streamed_file
from tessera_gateway.proxy.upstream import UpstreamError, UpstreamPool
from tessera_gateway.teams.scope import team_scope_headers
from tessera_shared.api_keys import SUBJECT_PREFIX as API_KEY_SUBJECT
from tessera_shared.auth import CurrentPrincipal, Role
from tessera_shared.errors import InvalidInput
from tessera_shared.http.errors import Problem
from tessera_shared.http.query import forwards_query
from tessera_shared.observability import current_traceparent, request_id_var

router = APIRouter()

FORWARDED_REQUEST_HEADERS = (
    "authorization",
    "content-type",
    "accept",
    "idempotency-key",
    "if-match",
    "if-none-match",
    "accept-language",
    # A Server-Sent Events stream resumes after the last event its client saw.
    "last-event-id",
)
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
    "content-length",
    "content-encoding",
    "x-request-id",
    "server",
    "date",
    "x-tessera-route",
}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# The bulk import (one path per format, and the deprecated path that takes either by Content-Type).
IMPORT_PATHS = frozenset(
    {"/api/v1/customers/import", "/api/v1/customers/import/csv", "/api/v1/customers/import/ndjson"}
)
# Who may import (the customer service's rule on POST /v1/customers/import, checked there too;
# a test keeps the two equal). Checked here before the body is read: only these callers get
# the import's large body limit and time.
IMPORT_ROLES = frozenset({Role.SALES_MANAGER, Role.SERVICE})
RETRIES = 2
# Server-Sent Events (the notifications' live push): relayed chunk by chunk as they come, with no
# read timeout (the service sends heartbeats and ends the stream itself), never buffered.
STREAM_PATHS = frozenset({"/api/v1/notifications/stream"})
# Forwarded header values: visible ASCII, spaces and tabs (RFC 9110 field values an HTTP client
# can send on; anything else is refused with 422 naming the header).
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e]*")
# Characters a path segment keeps unencoded when forwarded (RFC 3986 pchar without '%').
_PATH_SAFE = "/!$&'()*+,;=:@-._~"
# Response headers that carry links to be rewritten from the service's paths to the gateway's.
_LINK_HEADERS = frozenset({"location", "content-location"})
_LINK_TARGET = re.compile(r"<([^>]*)>")


def header_name(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def forwarded_headers(request: Request) -> dict[str, str]:
    """The caller's headers a service needs; a value that is not visible ASCII is a 422."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        if name not in FORWARDED_REQUEST_HEADERS:
            continue
        if not _FIELD_VALUE.fullmatch(value):
            field = header_name(name)
            raise InvalidInput(field, "must be visible ASCII characters (no control or non-ASCII characters)", "header")
        headers[name] = value
    return headers


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.hostname, parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())


def public_link(value: str, upstreams: dict[str, str]) -> str:
    """A service's link as the gateway serves it: ``/v1/x`` (or ``http://service/v1/x``) -> ``/api/v1/x``.
    Links elsewhere are left alone; an upstream's address never passes."""
    parts = urlsplit(value)
    if parts.scheme and parts.netloc:
        try:
            upstream = _origin(value) in {_origin(base) for base in upstreams.values()}
        except ValueError:  # a malformed port
            upstream = False
        if not upstream:
            return value
        value = urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))
    if value == "/v1" or value.startswith(("/v1/", "/v1?")):
        return "/api" + value
    return value


def public_headers(resp: httpx2.Response, upstreams: dict[str, str]) -> dict[str, str]:
    return public_header_items(resp.headers.items(), upstreams)


def public_header_items(items: Iterable[tuple[str, str]], upstreams: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in items:
        lower = name.lower()
        if lower in HOP_BY_HOP:
            continue
        if lower in _LINK_HEADERS:
            value = public_link(value, upstreams)
        elif lower == "link":
            value = _LINK_TARGET.sub(lambda m: f"<{public_link(m.group(1), upstreams)}>", value)
        out[name] = value
    return out


def public_body(resp: httpx2.Response, upstreams: dict[str, str]) -> bytes:
    """A problem's ``instance`` names the gateway's path, not the service's."""
    return public_problem(resp.headers.get("content-type", ""), resp.content, upstreams)


def public_problem(content_type: str, body: bytes, upstreams: dict[str, str]) -> bytes:
    if content_type.startswith("application/problem+json") and len(body) < 65_536:
        try:
            problem = orjson.loads(body)
        except orjson.JSONDecodeError:
            return body
        if isinstance(problem, dict) and isinstance(problem.get("instance"), str):
            problem["instance"] = public_link(problem["instance"], upstreams)
            return orjson.dumps(problem)
    return body


async def forward(request: Request, service: str, path: str) -> Response:
    client: httpx2.AsyncClient = request.app.state.clients[service]
    base = request.app.state.upstreams[service]
    headers = forwarded_headers(request)
    if (authorization := upstream_authorization(request)) is not None:
        headers["authorization"] = authorization  # an API key's call: the gateway's token for it
    headers.update(await team_scope_headers(request))  # a team lead's scope, signed here
    headers["x-request-id"] = request_id_var.get() or ""
    if tp := current_traceparent():
        headers["traceparent"] = tp
    body = await request.body()
    long_running = request.url.path in IMPORT_PATHS
    streaming = request.method == "GET" and (request.url.path in STREAM_PATHS or streamed_file(request.url.path))
    pool: UpstreamPool | None = getattr(request.app.state, "upstream_pools", {}).get(service)
    if pool is not None and not long_running and not streaming:
        return await forward_pooled(request, pool, service, path, headers, body)
    settings = request.app.state.settings
    timeout: httpx2.Timeout | float | object = httpx2.USE_CLIENT_DEFAULT
    if long_running:
        timeout = settings.import_timeout
    elif streaming:
        timeout = httpx2.Timeout(settings.upstream_timeout, connect=settings.upstream_connect_timeout, read=None)
    upstream = client.build_request(
        # The decoded path, encoded again: what the service decodes is what the gateway routed.
        request.method,
        f"{base}/v1/{quote(path, safe=_PATH_SAFE)}",
        params=tuple(request.query_params.multi_items()),
        headers=headers,
        content=body,
        timeout=timeout,  # type: ignore[arg-type]  # USE_CLIENT_DEFAULT is a sentinel object
    )
    attempt = 0
    while True:
        try:
            resp = await client.send(upstream, stream=streaming)
            break
        except (httpx2.ConnectError, httpx2.ConnectTimeout) as exc:
            # Not connected means not sent: a retry cannot apply a write twice.
            attempt += 1
            if attempt > RETRIES:
                raise Problem(
                    503, f"the {service} service is unavailable", slug="upstream-unavailable", service=service
                ) from exc
        except httpx2.TimeoutException as exc:
            attempt += 1
            if request.method not in SAFE_METHODS or attempt > RETRIES:
                raise Problem(
                    504, f"the {service} service did not answer in time", slug="upstream-timeout", service=service
                ) from exc
        except httpx2.TransportError as exc:
            attempt += 1
            if request.method not in SAFE_METHODS or attempt > RETRIES:
                raise Problem(
                    502, f"the {service} service failed to answer", slug="upstream-error", service=service
                ) from exc
        await asyncio.sleep(0.05 * attempt)
    upstreams = request.app.state.upstreams
    # The metrics' route label: the template the service matched, as the gateway serves it.
    if (route := resp.headers.get("x-tessera-route", "")).startswith("/v1/"):
        request.scope["tessera.route"] = "/api" + route
    if streaming:
        if resp.status_code == 200:
            relayed = public_headers(resp, upstreams)
            length = resp.headers.get("content-length")
            if length is not None and "content-encoding" not in resp.headers:
                relayed["content-length"] = length  # the bytes are relayed as they come (a file's size)
            return StreamingResponse(relay(resp), status_code=200, headers=relayed)
        await resp.aread()
        await resp.aclose()
    return Response(
        content=public_body(resp, upstreams), status_code=resp.status_code, headers=public_headers(resp, upstreams)
    )


async def forward_pooled(
    request: Request, pool: UpstreamPool, service: str, path: str, headers: dict[str, str], body: bytes
) -> Response:
    """``forward`` on the hop's own keep-alive pool (proxy/upstream.py): the same request, retries,
    problems and public headers, at a fraction of httpx2's CPU per call."""
    target = f"/v1/{quote(path, safe=_PATH_SAFE)}"
    if request.scope.get("query_string"):
        target += "?" + urlencode(request.query_params.multi_items(), quote_via=quote)
    items = list(headers.items())
    attempt = 0
    while True:
        try:
            resp = await pool.request(request.method, target, items, body)
            break
        except UpstreamError as exc:
            # Not connected means not sent: a retry cannot apply a write twice.
            attempt += 1
            if exc.kind == "connect":
                if attempt > RETRIES:
                    raise Problem(
                        503, f"the {service} service is unavailable", slug="upstream-unavailable", service=service
                    ) from exc
            elif request.method not in SAFE_METHODS or attempt > RETRIES:
                if exc.kind == "timeout":
                    raise Problem(
                        504, f"the {service} service did not answer in time", slug="upstream-timeout", service=service
                    ) from exc
                raise Problem(
                    502, f"the {service} service failed to answer", slug="upstream-error", service=service
                ) from exc
        await asyncio.sleep(0.05 * attempt)
    merged: dict[str, str] = {}
    for raw_name, raw_value in resp.headers:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    # The metrics' route label: the template the service matched, as the gateway serves it.
    if (route := merged.get("x-tessera-route", "")).startswith("/v1/"):
        request.scope["tessera.route"] = "/api" + route
    upstreams = request.app.state.upstreams
    return Response(
        content=public_problem(merged.get("content-type", ""), resp.body, upstreams),
        status_code=resp.status,
        headers=public_header_items(merged.items(), upstreams),
    )


async def relay(resp: httpx2.Response) -> AsyncIterator[bytes]:
    """The upstream's body as it arrives; the upstream connection is closed when the client goes."""
    try:
        async for chunk in resp.aiter_raw():
            yield chunk
    finally:
        await resp.aclose()


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
@forwards_query
async def forward_survey_link(survey_id: uuid.UUID, request: Request) -> Response:
    """Survey links reach customers, who have no account: the link's token is the credential,
    checked by the service desk. Staff may still come with their bearer token."""
    if "token" not in request.query_params and "authorization" not in request.headers:
        raise Problem(401, "a survey link token or a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    caller = request.client.host if request.client else "unknown"
    limits: RateLimits = request.app.state.survey_link_limits
    decision = await limits.take(caller)
    request.state.rate_limit_headers = limits.headers(decision)
    if not decision.allowed:
        raise Problem(429, "too many requests", slug="rate-limited", headers=limits.headers(decision))
    response = await forward(request, "service-desk", request.url.path.removeprefix("/api/v1/"))
    response.headers.update(limits.headers(decision))
    return response


@router.get("/api/v1/email-unsubscribe/{customer_id}/{purpose}", include_in_schema=False)
@router.post("/api/v1/email-unsubscribe/{customer_id}/{purpose}", include_in_schema=False)
@forwards_query
async def forward_unsubscribe_link(customer_id: uuid.UUID, purpose: str, request: Request) -> Response:
    """Unsubscribe links reach customers, who have no account: the link's token is the credential,
    checked by the notifications service; limited per address like the survey links."""
    if "token" not in request.query_params:
        raise Problem(401, "an unsubscribe link token is required", headers={"WWW-Authenticate": "Bearer"})
    caller = request.client.host if request.client else "unknown"
    limits: RateLimits = request.app.state.survey_link_limits
    decision = await limits.take(caller)
    request.state.rate_limit_headers = limits.headers(decision)
    if not decision.allowed:
        raise Problem(429, "too many requests", slug="rate-limited", headers=limits.headers(decision))
    response = await forward(request, "notifications", request.url.path.removeprefix("/api/v1/"))
    response.headers.update(limits.headers(decision))
    return response


@router.api_route("/api/v1/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
@forwards_query  # the owning service checks the query string (and its ?fields=)
async def forward_to_owner(path: str, request: Request, principal: CurrentPrincipal) -> Response:
    # The token is checked here too, so anonymous traffic never reaches the services. Its limit
    # (an API key's own) is counted, and its RateLimit fields go on whatever is answered.
    await take_for(request, principal)
    service = owner_of(path)
    if request.method == "POST" and path.strip("/") == "exports":  # to the service holding the resource
        service = export_owner(await request.body()) or service
    if path.strip("/") == custom_fields.PATH:  # the owner of the entity, or all of them (a GET without one)
        if request.method == "POST":
            service = custom_fields.owner_of_body(await request.body())
        elif (service := custom_fields.owner_of_entity(request.query_params.get("entity"))) is None:
            return await custom_fields.merged_list(request, forward)
    if service is None:
        raise Problem(404, f"no resource at /api/v1/{path}")
    if request.method == "POST" and request.url.path in IMPORT_PATHS and not principal.may(IMPORT_ROLES):
        # Before the body (up to the import's 64 MiB) is read or forwarded.
        raise Problem(403, "your role may not do this", required_roles=sorted({*IMPORT_ROLES, Role.ADMIN}))
    expansion = expand.plan(request, path)  # ?expand= checked here and not forwarded
    response = await forward(request, service, path)
    if expansion is not None:
        response = await expansion.embed(request, response)
    if request.method not in SAFE_METHODS and response.status_code < 400 and request.app.state.views is not None:
        request.app.state.views.after_write(principal.subject, customers_named(path, response))
    if reads_personal_data(request.method, path) or principal.subject.startswith(API_KEY_SUBJECT):
        # Every call made with an API key is audited, under the key's name.
        audit.record(request.app.state.runtime, principal, request.method, path, response.status_code)
    return response
