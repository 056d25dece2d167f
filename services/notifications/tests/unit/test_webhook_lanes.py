"""The delivery worker's lanes (real requests to a receiver on loopback): small connection pools,
the least busy one per request, what httpx used to add (Host, Content-Length), one SSRF policy for
all of them."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpcore
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))  # the webhook receiver beside the tests

from webhook_receiver import receiving

from tessera_notifications.webhooks.lanes import Lanes
from tessera_notifications.webhooks.ssrf import AddressPolicy, RefusedAddress

LOOPBACK = AddressPolicy(allow_loopback=True, require_https=False)


def _connections(pool: httpcore.AsyncConnectionPool) -> int:
    return len(pool.connections)


async def test_the_lanes_split_the_connections_and_share_one_guarded_backend() -> None:
    lanes = Lanes(LOOPBACK, timeout=5.0, connections=64, per_lane=4)
    odd = Lanes(LOOPBACK, timeout=5.0, connections=10, per_lane=4)
    try:
        assert len(lanes.pools) == 16
        assert {p._max_connections for p in lanes.pools} == {4}
        assert all(p._network_backend is lanes.backend for p in lanes.pools)
        assert [p._max_connections for p in odd.pools] == [4, 4, 4]  # never fewer than asked
    finally:
        await lanes.aclose()
        await odd.aclose()


async def test_a_post_is_sent_as_httpx_sent_it_and_its_answer_read() -> None:
    lanes = Lanes(LOOPBACK, timeout=5.0, connections=8)
    try:
        async with receiving(lambda _: 202) as receiver:
            answer = await lanes.post(f"{receiver.url}?a=1", b'{"x":1}', {"webhook-id": "msg_1"})
            (got,) = await receiver.wait_for(1)
    finally:
        await lanes.aclose()
    assert answer.status_code == 202 and answer.body.startswith(b"answer 202 ")
    assert got.body == b'{"x":1}' and got.headers["webhook-id"] == "msg_1"
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}" and got.headers["content-length"] == "7"


async def test_requests_take_the_least_busy_lane_and_an_idle_process_reuses_one() -> None:
    lanes = Lanes(LOOPBACK, timeout=10.0, connections=16, per_lane=4)
    try:
        async with receiving() as receiver:
            for _ in range(5):
                await lanes.post(receiver.url, b"{}", {})
            assert [_connections(p) for p in lanes.pools] == [1, 0, 0, 0]  # one keep-alive connection
            await asyncio.gather(*(lanes.post(receiver.url, b"{}", {}) for _ in range(16)))
            assert all(1 <= _connections(p) <= 4 for p in lanes.pools), [_connections(p) for p in lanes.pools]
            assert len(receiver.received) == 21
    finally:
        await lanes.aclose()


async def test_one_policy_change_reaches_every_lane() -> None:
    lanes = Lanes(LOOPBACK, timeout=5.0, connections=8, per_lane=4)
    lanes.backend.policy = AddressPolicy(allow_loopback=False, require_https=False)
    try:
        async with receiving() as receiver:
            outcomes = await asyncio.gather(
                *(lanes.post(receiver.url, b"{}", {}) for _ in range(2)), return_exceptions=True
            )
    finally:
        await lanes.aclose()
    assert receiver.received == []
    for outcome in outcomes:
        assert isinstance(outcome, RefusedAddress) and "127.0.0.1 (loopback)" in str(outcome), outcome


async def test_a_timeout_is_httpcores_and_a_bad_url_raises() -> None:
    lanes = Lanes(LOOPBACK, timeout=0.3, connections=4)

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(2)
        writer.close()

    server = await asyncio.start_server(slow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(httpcore.TimeoutException):
            await lanes.post(f"http://127.0.0.1:{port}/h", b"{}", {})
        with pytest.raises(httpcore.UnsupportedProtocol):
            await lanes.post("ftp://127.0.0.1/h", b"{}", {})
    finally:
        server.close()
        await lanes.aclose()
