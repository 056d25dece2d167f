"""The 360 view with each service down in turn, real processes: it answers within its deadline."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tessera_shared.testing.builders import customer_payload

from .conftest import Stack, record
from .stack import BASE_PORT, PORTS, token

pytestmark = pytest.mark.reliability
# The sections each service feeds (the customer service also keeps loyalty and the timeline).
SECTIONS = {
    "customer": ["loyalty", "profile", "timeline"],
    "sales": ["sales"],
    "service-desk": ["service"],
    "billing": ["billing"],
}
DEADLINE = 3.0  # generous: a busy CI machine must not turn a healthy section into a timeout


async def test_360_with_each_service_down(stack: Stack) -> None:
    services = {name: await stack.add(name) for name in ("customer", "sales", "service-desk", "billing")}
    gateway = await stack.add("gateway")
    gateway.extra_env.update(
        {
            f"TESSERA_GATEWAY_{name.replace('-', '_').upper()}_URL": f"http://127.0.0.1:{BASE_PORT + PORTS[name]}"
            for name in services
        }
        | {"TESSERA_GATEWAY_VIEW_DEADLINE_SECONDS": str(DEADLINE)}
    )
    for svc in (*services.values(), gateway):
        svc.start()
    await asyncio.gather(*(svc.wait_ready() for svc in (*services.values(), gateway)))
    headers = {"Authorization": f"Bearer {token('admin', 'admin')}"}
    async with httpx.AsyncClient(timeout=10) as client:
        created = await client.post(f"{gateway.url}/api/v1/customers", json=customer_payload(), headers=headers)
        assert created.status_code == 201, created.text
        url = f"{gateway.url}/api/v1/customers/{created.json()['id']}/360"
        fresh_headers = headers | {"Cache-Control": "no-cache"}  # composed now, never from the view cache

        async def every_section_back(after: str) -> None:
            # Freshly started processes serve their first, slowest, requests here: on a loaded
            # machine a cold first answer past the deadline was taken for an outage. The whole
            # view, asked fresh, until every section is ok.
            for _ in range(20):
                fresh = await client.get(url, headers=fresh_headers)
                if set(fresh.json()["sections"].values()) == {"ok"}:
                    return
                await asyncio.sleep(0.25)
            raise AssertionError((after, "not back", fresh.json()["sections"]))

        await every_section_back("the start")
        worst = 0.0
        for name, svc in services.items():
            svc.kill9()
            # A healthy section may miss the deadline only when the machine itself stalls (CI runs
            # other real-process tests beside this one); the dead service's sections must be
            # unavailable every time, and a retry must show every other section ok.
            for attempt in range(3):
                started = time.monotonic()
                r = await client.get(url, headers=fresh_headers)
                elapsed = time.monotonic() - started
                worst = max(worst, elapsed)
                assert r.status_code == 200, r.text
                sections = r.json()["sections"]
                assert {sections[s] for s in SECTIONS[name]} == {"unavailable"}, (name, sections)
                assert elapsed < DEADLINE + 2.0
                others = {s: v for s, v in sections.items() if s not in SECTIONS[name]}
                if set(others.values()) == {"ok"}:
                    break
                assert set(others.values()) <= {"ok", "timeout"} and attempt < 2, (name, sections)
            svc.start()
            await svc.wait_ready()
            await every_section_back(name)
    record(
        "360 view with each service killed in turn",
        produced=4,
        applied=4,
        lost=0,
        duplicated=0,
        redelivered=0,
        recovery_s=round(worst, 2),
    )
