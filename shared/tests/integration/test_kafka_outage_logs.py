"""A Kafka outage is a line per state change and a periodic summary at WARNING, not a flood
(issue 17, item 9): ~80 ERROR lines a second per process came from aiokafka and our relay and
consumer retrying against a closed port."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

import tessera_sales.main as sales_main
from tessera_sales.settings import SalesSettings
from tessera_shared.kafka_log import OUTAGE, KafkaOutage
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lines(logging.Handler):
    """What the process's log stream gets: a handler on the root logger, as configure_logging's.
    (caplog also hooks loggers that do not propagate, so it would count what nobody sees.)"""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_closed_kafka_port_logs_one_line(databases: DatabaseFactory, backend: str) -> None:
    url = await databases.new("sales", backend, migrations_of(sales_main.__file__))
    app = sales_main.create_app(
        SalesSettings(
            database_url=url,
            kafka_bootstrap=f"127.0.0.1:{closed_port()}",
            kafka_create_topics=False,
            jobs_enabled=False,
            log_json=False,
        )
    )
    OUTAGE.recovered("test")  # a clean state, whatever ran before in this process
    lines = Lines()
    async with app.router.lifespan_context(app):
        logging.getLogger().addHandler(lines)
        try:
            await asyncio.sleep(4)  # relay and consumer retry many times meanwhile
        finally:
            logging.getLogger().removeHandler(lines)
    # No gateway runs here: the feeds that follow it (revoked tokens, the user directory) say so.
    gateway_feeds = {"tessera_shared.revocation", "tessera_shared.users"}
    records = [r for r in lines.records if r.levelno >= logging.WARNING and r.name not in gateway_feeds]
    seen = [(r.name, r.levelname, r.getMessage()[:120]) for r in records]
    kafka = [r for r in records if r.name == "tessera_shared.kafka"]
    assert len(kafka) == 1 and "Kafka unreachable" in kafka[0].getMessage(), seen
    assert kafka[0].levelname == "WARNING"
    assert not [r for r in records if r.levelno >= logging.ERROR], seen
    assert len(records) == 1, seen
    assert OUTAGE.down and OUTAGE.suppressed >= 3, OUTAGE.suppressed  # the retries happened, counted


def test_state_changes_and_summaries(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    outage = KafkaOutage(clock=lambda: now[0], summary_every=60)
    caplog.set_level(logging.INFO, logger="tessera_shared.kafka")
    outage.recovered("relay")  # up and staying up: nothing
    for _ in range(80 * 150):  # 80 failures a second for 150 s
        now[0] += 1 / 80
        outage.failed("relay", "KafkaConnectionError('Unable to bootstrap')")
    outage.recovered("relay")
    outage.recovered("consumer")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4, lines  # down, two summaries (60 s, 120 s), back
    assert lines[0].startswith("Kafka unreachable")
    assert lines[1].startswith("Kafka still unreachable after 60 s") and "4800 failed attempts" in lines[1]
    assert lines[2].startswith("Kafka still unreachable after 120 s")
    assert lines[3].startswith("Kafka reachable again after 150 s")
    assert {r.levelname for r in caplog.records} == {"WARNING"}
