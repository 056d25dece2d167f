"""`tessera` CLI on a real broker: list and re-drive dead letters, replay, lag."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from sqlalchemy import insert

from tessera_shared.cli import parser
from tessera_shared.events import CloudEvent

from .conftest import Ping, effects
from .test_consumer_runner import effect_rows, ping_bytes, produce, runner_for, wait_until


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict]:
    args = parser().parse_args(list(argv))
    assert await args.run(args) == 0
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


async def apply_even_failing(session, event: CloudEvent, data: Ping) -> None:
    """The handler after the bug fix: it no longer refuses these pings."""
    await session.execute(insert(effects).values(ping_no=data.ping_no, label=data.label))


async def test_dead_letters_are_listed_redriven_once_and_applied_once(
    sessions, kafka_bootstrap, topics, capsys
) -> None:
    key = uuid.uuid4()
    await produce(kafka_bootstrap, f"{topics}crm.customer", [ping_bytes(1, key), ping_bytes(2, key, fail=True)])
    group = f"{topics}tessera-billing"
    runner = runner_for(sessions, kafka_bootstrap, topics, group)
    runner.start()
    try:
        await wait_until(lambda: asyncio.sleep(0, runner.applied == 1 and runner.dead_lettered == 1))
    finally:
        await runner.stop()

    common = ["--bootstrap", kafka_bootstrap, "--namespace", topics]
    (parked,) = await cli(capsys, *common, "dlq", "list", "--service", "billing")
    assert parked["type"] == "test.ping"
    assert "handler cannot apply ping 2" in parked["error"]
    assert parked["origin"].startswith(f"{topics}crm.customer[")
    assert parked["key"] == str(key)

    redriven = await cli(capsys, *common, "dlq", "redrive", "--service", "billing")
    assert len(redriven) == 1
    assert await cli(capsys, *common, "dlq", "redrive", "--service", "billing") == []  # not twice

    fixed = runner_for(sessions, kafka_bootstrap, topics, group)
    fixed._handlers[Ping.event_type] = apply_even_failing
    fixed.start()
    try:
        await wait_until(lambda: asyncio.sleep(0, fixed.applied == 1))
    finally:
        await fixed.stop()
    assert await effect_rows(sessions) == [1, 2]

    lags = await cli(capsys, *common, "lag", "--service", "billing", "--producers", "customer")
    assert sum(row["lag"] for row in lags) == 0


async def test_replay_from_offset_zero_redelivers_and_the_inbox_dedupes(
    sessions, kafka_bootstrap, topics, capsys
) -> None:
    key = uuid.uuid4()
    await produce(kafka_bootstrap, f"{topics}crm.customer", [ping_bytes(n, key) for n in range(3)])
    group = f"{topics}tessera-billing"
    first = runner_for(sessions, kafka_bootstrap, topics, group)
    first.start()
    try:
        await wait_until(lambda: asyncio.sleep(0, first.applied == 3))
    finally:
        await first.stop()

    common = ["--bootstrap", kafka_bootstrap, "--namespace", topics]
    moved = await cli(
        capsys, *common, "replay", "--service", "billing", "--producers", "customer", "--from-offset", "0"
    )
    assert {row["offset"] for row in moved} == {0}
    lags = await cli(capsys, *common, "lag", "--service", "billing", "--producers", "customer")
    assert sum(row["lag"] for row in lags) == 3

    again = runner_for(sessions, kafka_bootstrap, topics, group)
    again.start()
    try:
        await wait_until(lambda: asyncio.sleep(0, again.duplicates == 3))
    finally:
        await again.stop()
    assert again.applied == 0
    assert await effect_rows(sessions) == [0, 1, 2]
