"""SIGTERM under load: in-flight requests finish, nothing committed is left unpublished."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest

from tessera_shared.testing.builders import customer_payload

from .conftest import SCALE, Stack, record
from .stack import eventually, scalar, token

pytestmark = pytest.mark.reliability


def auth() -> dict[str, str]:
    """A fresh token each call: a slow suite outlives an access token made at import."""
    return {"Authorization": f"Bearer {token()}"}


async def test_sigterm_under_load_finishes_in_flight_requests_and_flushes_events(stack: Stack) -> None:
    customer, billing = await stack.add("customer"), await stack.add("billing")
    customer.start()
    billing.start()
    await asyncio.gather(customer.wait_ready(), billing.wait_ready())
    draining = asyncio.Event()
    outcomes: dict[str, int] = {"created": 0, "failed": 0}
    import_rows = max(SCALE * 100, 2000)

    async def writer(client: httpx.AsyncClient) -> None:
        # A load balancer stops sending new requests once the pod is terminating.
        while not draining.is_set():
            try:
                r = await client.post(f"{customer.url}/v1/customers", json=customer_payload(), headers=auth())
                outcomes["created" if r.status_code == 201 else "failed"] += 1
            except httpx.HTTPError:
                outcomes["failed"] += 1

    async def slow_import(client: httpx.AsyncClient) -> httpx.Response:
        rows = "".join(f"imp-{n},person,Imported {n},imp{n}@example.com\n" for n in range(import_rows))
        return await client.post(
            f"{customer.url}/v1/customers/import",
            content=("external_id,kind,name,email\n" + rows).encode(),
            headers={**auth(), "Content-Type": "text/csv"},
        )

    async with httpx.AsyncClient(timeout=60) as client:
        writers = [asyncio.create_task(writer(client)) for _ in range(6)]
        await asyncio.sleep(1.0)
        importing = asyncio.create_task(slow_import(client))
        await asyncio.sleep(0.3)  # the import is being processed now
        # The balancer takes the pod out (the manifests' preStop sleep) and its last requests are
        # answered; then SIGTERM, with the import in flight. (A request still unread in its socket
        # when SIGTERM came would be refused with its connection, as uvicorn closes idle ones.)
        draining.set()
        await asyncio.gather(*writers)
        assert not importing.done(), "the import ended before SIGTERM: make it larger"
        started = time.monotonic()
        customer.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        imported = await importing
    exit_code = await customer.wait_killed(timeout=60)
    drained_s = round(time.monotonic() - started, 2)
    assert exit_code in (0, -15)
    assert outcomes["failed"] == 0, outcomes
    assert imported.status_code == 200, imported.text[:300]
    assert imported.json()["created"] == import_rows
    unsent = "SELECT count(*) FROM outbox_events WHERE sent_at IS NULL"
    if customer.peers:  # the relay's lease may be a peer's: it publishes what the stopped one committed
        await eventually(lambda: _none_unsent(customer.database_url, unsent), timeout=30)
    else:  # the relay flushed everything committed before the process ended
        assert await scalar(customer.database_url, unsent) == 0
    expected = outcomes["created"] + import_rows
    await eventually(lambda: _billing_has(billing, expected), timeout=60)
    record(
        "SIGTERM under load (a bulk import in flight, the writes drained first)",
        produced=expected,
        applied=expected,
        lost=0,
        duplicated=0,
        redelivered=0,
        recovery_s=drained_s,
    )


async def _none_unsent(database_url: str, sql: str) -> bool:
    return int(await scalar(database_url, sql)) == 0


async def _billing_has(billing, expected: int) -> bool:
    return int(await scalar(billing.database_url, "SELECT count(*) FROM credit_profiles")) == expected
