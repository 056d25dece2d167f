"""The forwarding hop's keep-alive pool (proxy/upstream.py) against a real uvicorn server:
connections reused, chunked bodies, a server that closes, timeouts and refused connections."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from tessera_gateway.proxy.upstream import UpstreamError, UpstreamPool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def service() -> FastAPI:
    app = FastAPI()
    peers: list[int] = []
    app.state.peers = peers

    @app.get("/v1/echo")
    async def echo(request: Request) -> JSONResponse:
        peers.append(request.client.port if request.client else 0)
        return JSONResponse(
            {"query": str(request.url.query), "auth": request.headers.get("authorization")},
            headers={"x-tessera-route": "/v1/echo"},
        )

    @app.post("/v1/echo")
    async def echo_body(request: Request) -> Response:
        return Response(await request.body(), media_type="application/octet-stream", status_code=201)

    @app.get("/v1/chunked")
    async def chunked() -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            for i in range(5):
                yield f"part{i};".encode()

        return StreamingResponse(parts(), media_type="text/plain")

    @app.get("/v1/close")
    async def close() -> Response:
        return Response(b"bye", headers={"connection": "close"})

    @app.get("/v1/slow")
    async def slow() -> Response:
        await asyncio.sleep(2)
        return Response(b"late")

    @app.delete("/v1/nothing")
    async def nothing() -> Response:
        return Response(status_code=204)

    return app


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(400):
            if server.started:
                break
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_requests_share_kept_alive_connections_and_bodies_arrive_whole() -> None:
    app = service()
    async with served(app) as url:
        pool = UpstreamPool(url, max_connections=4, timeout=5, connect_timeout=2)
        try:
            for i in range(20):
                r = await pool.request("GET", f"/v1/echo?n={i}&q=a%20b", [("authorization", "Bearer t")])
                assert r.status == 200
                assert r.body == f'{{"query":"n={i}&q=a%20b","auth":"Bearer t"}}'.encode()
                assert r.header(b"x-tessera-route") == b"/v1/echo"
            assert len(set(app.state.peers)) == 1  # one connection for 20 sequential requests
            answers = await asyncio.gather(*(pool.request("GET", "/v1/echo", []) for _ in range(12)))
            assert {a.status for a in answers} == {200}
            assert len(set(app.state.peers)) <= 4  # never more connections than the pool's bound
            body = b"x" * 200_000
            r = await pool.request("POST", "/v1/echo", [("content-type", "application/octet-stream")], body)
            assert (r.status, r.body) == (201, body)
            r = await pool.request("GET", "/v1/chunked", [])
            assert r.body == b"part0;part1;part2;part3;part4;"
            r = await pool.request("DELETE", "/v1/nothing", [])
            assert (r.status, r.body) == (204, b"")
            # A server that closes after its answer: the next request opens a new connection.
            assert (await pool.request("GET", "/v1/close", [])).body == b"bye"
            assert (await pool.request("GET", "/v1/echo", [])).status == 200
        finally:
            await pool.aclose()


async def test_timeouts_and_refused_connections_are_told_apart() -> None:
    async with served(service()) as url:
        pool = UpstreamPool(url, max_connections=2, timeout=0.3, connect_timeout=1)
        try:
            with pytest.raises(UpstreamError) as slow:
                await pool.request("GET", "/v1/slow", [])
            assert slow.value.kind == "timeout"
            assert (await pool.request("GET", "/v1/echo", [], timeout=5)).status == 200  # the pool still works
        finally:
            await pool.aclose()
    refused = UpstreamPool(f"http://127.0.0.1:{free_port()}", max_connections=2, timeout=1, connect_timeout=1)
    with pytest.raises(UpstreamError) as down:
        await refused.request("GET", "/v1/echo", [])
    assert down.value.kind == "connect"  # nothing was sent: the gateway may retry any method
    await refused.aclose()
