"""tessera_shared.http.fast_read: which GETs the fast read takes, and that anything it cannot
answer goes to the route (pure unit tests: a small FastAPI app, no database)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import httpx
from fastapi import FastAPI, Request, Response

from tessera_shared.auth import Principal, TokenCodec, require_roles
from tessera_shared.http.errors import install_problem_handlers
from tessera_shared.http.fast_read import FastRead, FastReads, canonical_uuid

ID = uuid.UUID("01a245ed-c7bb-7bbb-8e7c-6fbcb0b175b1")


def test_canonical_uuid_only() -> None:
    assert canonical_uuid(str(ID)) == ID
    assert canonical_uuid(str(ID).upper()) == ID
    for other in (ID.hex, "{" + str(ID) + "}", f"urn:uuid:{ID}", str(ID)[:-1] + "g", "0" * 32 + "----", ""):
        assert canonical_uuid(other) is None, other


def app_with(read: Any) -> tuple[FastAPI, FastRead, TokenCodec]:
    app = FastAPI()
    install_problem_handlers(app)
    codec = TokenCodec(algorithm="HS256", signing_key="k" * 40, issuer="tessera-gateway", audience="tessera")
    app.state.token_codec = codec

    @app.get("/v1/things/{thing_id}")
    async def get_thing(thing_id: uuid.UUID, _: Annotated[Principal, require_roles("sales_rep")]) -> dict[str, str]:
        return {"from": "route"}

    fast = FastRead(path="/v1/things/{thing_id}", roles=("sales_rep",), read=read)
    app.add_middleware(FastReads, reads=[fast])
    return app, fast, codec


async def test_fast_read_answers_and_leaves_the_rest_to_the_route() -> None:
    seen: list[Any] = []

    async def read(request: Request, thing_id: uuid.UUID, principal: Principal) -> Response | None:
        seen.append(request.scope.get("route"))
        if thing_id == ID:
            return Response(b'{"from":"fast"}', media_type="application/json")
        if thing_id.int == 0:
            raise RuntimeError("the database is away")
        return None  # e.g. not found: the route answers

    app, fast, codec = app_with(read)
    rep = {"authorization": f"Bearer {codec.issue('rep1', ['sales_rep'])}"}
    other = {"authorization": f"Bearer {codec.issue('c1', ['marketing'])}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:

        async def origin(path: str, headers: dict[str, str]) -> tuple[int, Any]:
            r = await client.get(path, headers=headers)
            return r.status_code, r.json().get("from")

        assert await origin(f"/v1/things/{ID}", rep) == (200, "fast")
        assert seen == [None]  # read before routing; the route is put in the scope after
        assert await origin(f"/v1/things/{ID}?x=1", rep) == (200, "route")
        assert await origin(f"/v1/things/{ID.hex}", rep) == (200, "route")
        assert await origin(f"/v1/things/{ID}", {}) == (401, None)
        assert await origin(f"/v1/things/{ID}", other) == (403, None)
        assert await origin(f"/v1/things/{uuid.UUID(int=0)}", rep) == (200, "route")  # read failed
        assert await origin(f"/v1/things/{uuid.uuid4()}", rep) == (200, "route")  # read declined
        assert (await client.head(f"/v1/things/{ID}", headers=rep)).status_code == 405
    assert fast.served == 1
