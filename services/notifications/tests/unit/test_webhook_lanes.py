"""The delivery worker's lanes: small connection pools, the least busy one per request, one SSRF
policy for all of them."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from tessera_notifications.webhooks.lanes import Lanes
from tessera_notifications.webhooks.ssrf import AddressPolicy


def _pool(client: httpx.AsyncClient) -> Any:
    return client._transport._pool  # type: ignore[attr-defined]


async def test_lanes_split_the_connections_and_share_one_guarded_backend() -> None:
    lanes = Lanes(AddressPolicy(allow_loopback=True), timeout=1.0, connections=64, per_lane=4)
    try:
        assert len(lanes.clients) == 16
        assert {_pool(c)._max_connections for c in lanes.clients} == {4}
        assert all(_pool(c)._network_backend is lanes.backend for c in lanes.clients)
        odd = Lanes(AddressPolicy(), timeout=1.0, connections=10, per_lane=4)
        assert [_pool(c)._max_connections for c in odd.clients] == [4, 4, 4]  # never fewer than asked
        await odd.aclose()
    finally:
        await lanes.aclose()


async def test_a_request_takes_the_least_busy_lane_so_none_goes_over_its_share() -> None:
    lanes = Lanes(AddressPolicy(), timeout=1.0, connections=64, per_lane=4)
    try:
        async with lanes.client() as first:
            pass
        async with lanes.client() as again:
            assert again is first  # idle: the same lane (its keep-alive connections) again
        async with AsyncExitStack() as stack:
            held = [await stack.enter_async_context(lanes.client()) for _ in range(64)]
            assert sorted(held.count(c) for c in lanes.clients) == [4] * 16
        assert lanes._busy == [0] * 16
    finally:
        await lanes.aclose()


async def test_one_policy_change_reaches_every_lane() -> None:
    lanes = Lanes(AddressPolicy(allow_loopback=True, require_https=False), timeout=1.0, connections=8, per_lane=4)
    lanes.backend.policy = AddressPolicy(allow_loopback=False, require_https=False)
    try:
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(lanes.client()) for _ in range(2)]
            assert clients[0] is not clients[1]
            for client in clients:
                with pytest.raises(httpx.ConnectError, match=r"refused addresses: 127\.0\.0\.1 \(loopback\)"):
                    await asyncio.wait_for(client.post("http://127.0.0.1:9/x", content=b"{}"), 5)
    finally:
        await lanes.aclose()
