"""Per-token (and per-address) request limits, shared by every gateway replica (limits/store.py),
and the IETF RateLimit fields that report them (draft-ietf-httpapi-ratelimit-headers)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera_gateway.limits.store import Decision, SlidingWindows, retry_after_header
from tessera_shared.api_keys import SUBJECT_PREFIX
from tessera_shared.auth import CurrentPrincipal, Principal, principal_from_request
from tessera_shared.http.errors import Problem
from tessera_shared.once import once_per_arguments

WINDOW_SECONDS = 60


class RateLimits:
    """``per_minute`` requests per key in any 60 s (a sliding window): a policy by name."""

    def __init__(self, windows: SlidingWindows, per_minute: int, policy: str = "per-token") -> None:
        self._windows = windows
        self.limit = per_minute
        self.policy = policy

    async def take(self, key: str, limit: int | None = None) -> Decision:
        """Count one request of ``key``, at ``limit`` (a key's own policy) or the default."""
        return await self._windows.take(f"rate:{self.policy}:{key}", limit or self.limit, WINDOW_SECONDS)

    def headers(self, decision: Decision) -> dict[str, str]:
        """``RateLimit-Policy`` (the quota ``q`` per window ``w``) and ``RateLimit`` (``r`` left,
        for ``t`` more seconds at most), and ``Retry-After`` on a refusal."""
        fields = {
            "RateLimit-Policy": f'"{self.policy}";q={decision.limit};w={decision.window}',
            "RateLimit": f'"{self.policy}";r={decision.remaining};t={max(0, math.ceil(decision.reset))}',
        }
        if not decision.allowed:
            fields["Retry-After"] = retry_after_header(decision.retry_after)
        return fields


API_KEY_POLICY = "per-api-key"


def limits_for(request: Request, principal: Principal) -> tuple[RateLimits, int | None]:
    """The policy a caller is held to: its API key's (each key a window of its own, at the key's
    own limit if it has one), else its token's subject's."""
    if principal.subject.startswith(SUBJECT_PREFIX):
        state = request.app.state
        return state.api_key_limits, state.api_key_policies.of(principal.subject)
    return request.app.state.rate_limits, None


async def take_for(request: Request, principal: Principal) -> None:
    """Count one request of ``principal``; the RateLimit fields go on the answer whatever it is
    (RateLimitHeaders), a refusal is a 429 with Retry-After."""
    if not hasattr(request.app.state, "rate_limits"):
        return  # an app whose lifespan never ran (tests taking the process as up) has no limiter
    if getattr(request.state, "rate_limit_headers", None) is not None:
        return  # counted already (count_first's, before the query check)
    limits, limit = limits_for(request, principal)
    decision = await limits.take(principal.subject, limit)
    fields = limits.headers(decision)
    request.state.rate_limit_headers = fields
    if not decision.allowed:
        raise Problem(429, "rate limit exceeded for this token", slug="rate-limited", headers=fields)


async def rate_limited(request: Request, principal: CurrentPrincipal) -> None:
    """A dependency for the gateway's own authenticated endpoints: the per-token (per-key) limit."""
    await take_for(request, principal)


@once_per_arguments
def count_first(*routers: APIRouter) -> Callable[[Request], Awaitable[None]]:
    """An app-wide dependency that runs before the query check: on an endpoint of ``routers`` (the
    ones ``rate_limited`` guards) the request is counted first, so that a refused query (an
    unknown parameter, a bad ``fields=``) still answers with the caller's RateLimit fields and
    counts as the request it is. A missing or bad token is the 401 it would have been.

    One dependency per set of routers (tessera_shared.once): every app made of them has the same
    routes, so their OpenAPI document is built once per process."""
    endpoints = frozenset(r.endpoint for router in routers for r in router.routes if isinstance(r, APIRoute))

    async def counted(request: Request) -> None:
        if getattr(request.scope.get("route"), "endpoint", None) in endpoints:
            await take_for(request, await principal_from_request(request))

    return counted


def with_limit_fields(start: Message, fields: dict[str, str] | None) -> Message:
    """A response start with the RateLimit fields noted on the request (replacing any of the
    same names the route set)."""
    if not fields:
        return start
    names = {name.lower().encode() for name in fields}
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in names]
    headers.extend((k.lower().encode(), v.encode()) for k, v in fields.items())
    return {**start, "headers": headers}


class RateLimitHeaders:
    """Puts the RateLimit fields noted on a request (``request.state.rate_limit_headers``) on its
    answer, whatever produced it: the service's answer, a problem raised after the count (404, 502,
    422 ...), or the gateway's own endpoint."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_fields(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = with_limit_fields(message, scope.get("state", {}).get("rate_limit_headers"))
            await send(message)

        await self.app(scope, receive, send_with_fields)
