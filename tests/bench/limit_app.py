"""The real ceiling of a read by id with a bearer token ("the limit" of rows 2, 3 and 5b): the
least a FastAPI service can do for `GET /v1/customers/{id}` and still be one.

One route, served by uvicorn with the services' flags (uvloop, httptools, no access log):
the bearer token verified by PyJWT on every request (HS256, issuer, audience and the claims the
services require, no cache), the customer row read by asyncpg (a pool whose connections keep
the statement prepared; no reset on release: one autocommit statement, nothing to reset), the
row serialised by orjson. What it leaves out that a service must do: roles, revocation,
request id and trace context, metrics, the read audit, ETag, a response schema.

Settings from the environment: BENCH_LIMIT_DSN (postgresql://...), BENCH_LIMIT_KEY (the HS256
signing key), BENCH_LIMIT_ISSUER, BENCH_LIMIT_AUDIENCE.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg
import jwt
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

READ = "SELECT * FROM customers WHERE id = $1"


def _default(value: Any) -> Any:
    """What orjson does not know: Decimal, and asyncpg's own UUID type."""
    if isinstance(value, Decimal | uuid.UUID) or type(value).__name__ == "UUID":
        return str(value)
    raise TypeError(type(value).__name__)


async def _no_reset(_conn: asyncpg.Connection) -> None:
    return None


def _problem(status: int, detail: str) -> Response:
    return Response(orjson.dumps({"status": status, "detail": detail}), status, media_type="application/problem+json")


def create_app() -> FastAPI:
    dsn = os.environ["BENCH_LIMIT_DSN"]
    key = os.environ["BENCH_LIMIT_KEY"]
    issuer = os.environ.get("BENCH_LIMIT_ISSUER", "tessera-gateway")
    audience = os.environ.get("BENCH_LIMIT_AUDIENCE", "tessera")
    state: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(dsn, min_size=10, max_size=20, reset=_no_reset, ssl=False)
        try:
            yield
        finally:
            await state["pool"].close()

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    @app.get("/v1/customers/{customer_id}")
    async def get_customer(customer_id: str, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return _problem(401, "a bearer token is required")
        try:
            jwt.decode(
                token,
                key,
                algorithms=["HS256"],
                issuer=issuer,
                audience=audience,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.InvalidTokenError:
            return _problem(401, "invalid token")
        try:
            cid = uuid.UUID(customer_id)
        except ValueError:
            return _problem(404, "not found")
        row = await state["pool"].fetchrow(READ, cid)
        if row is None:
            return _problem(404, "not found")
        return Response(orjson.dumps(dict(row), default=_default), media_type="application/json")

    return app
