"""tessera_shared.http.guard and tessera_shared.revocation, without a service around them."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tessera_shared.http.guard import EdgeGuardMiddleware, ambiguous_path
from tessera_shared.revocation import RevokedTokens


def app() -> EdgeGuardMiddleware:
    async def echo(request):
        cache = "public, max-age=60" if request.url.path.endswith("/schema") else "private, max-age=60"
        return PlainTextResponse(request.url.path, headers={"Cache-Control": cache})

    return EdgeGuardMiddleware(Starlette(routes=[Route("/{path:path}", echo)]), max_header_bytes=2048)


@pytest.mark.parametrize(
    ("path", "raw", "refused"),
    [
        ("/v1/a/../b", b"/v1/a/%2e%2e/b", True),
        ("/v1/./b", b"/v1/./b", True),
        ("/v1/a/b", b"/v1/a%2Fb", True),
        ("/v1/a\\b", b"/v1/a%5cb", True),
        ("/v1/a.b/..c", b"/v1/a.b/..c", False),
        ("/v1/a", b"/v1/a?x=%2F", False),
        ("/v1/a%2Fb", b"/v1/a%252Fb", False),
    ],
)
def test_ambiguous_path(path: str, raw: bytes, refused: bool) -> None:
    assert ambiguous_path({"path": path, "raw_path": raw}) is refused


async def test_refusals_and_headers() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://t") as client:
        r = await client.get("/v1/x/..%2Fy")
        assert (r.status_code, r.headers["content-type"]) == (404, "application/problem+json")
        assert r.headers["x-content-type-options"] == "nosniff"
        big = await client.get("/v1/x", headers={"X-Big": "b" * 3000})
        assert big.status_code == 431
        assert big.json()["type"] == "urn:tessera:problem:request-header-fields-too-large"
        ok = await client.get("/v1/x")
        assert (ok.status_code, ok.headers["cache-control"], ok.headers["x-content-type-options"]) == (
            200,
            "no-store",
            "nosniff",
        )
        outside = await client.get("/healthz")
        assert outside.headers["cache-control"] == "private, max-age=60"  # outside the API: untouched
        # A route that declares its answer public (holding no personal data) keeps its caching.
        public = await client.get("/api/v1/events/schema")
        assert (public.headers["cache-control"], public.headers["x-content-type-options"]) == (
            "public, max-age=60",
            "nosniff",
        )


def test_revoked_tokens_forget_what_expired() -> None:
    revoked = RevokedTokens()
    now = time.time()
    revoked.merge([("live", now + 600), ("dead", now - 3600)], datetime.now(UTC))
    assert "live" in revoked and "dead" not in revoked and None not in revoked
    assert revoked.since is not None and revoked.since < datetime.now(UTC)
