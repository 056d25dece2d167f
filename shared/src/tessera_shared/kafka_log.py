"""Kafka outages in the logs: a line when Kafka becomes unreachable, one when it is reachable
again, and while it stays down a summary every ``SUMMARY_EVERY`` seconds, all at WARNING.

Without this an outage wrote some 80 ERROR lines a second per process: aiokafka logs every
failed connection attempt of every client, and the relay and the consumer each logged every
retry. Now aiokafka's records about connection trouble and our clients' Kafka failures are
counted here instead of logged one by one; aiokafka's other records pass through unchanged.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

from aiokafka.errors import KafkaError

SUMMARY_EVERY = 60.0

log = logging.getLogger("tessera_shared.kafka")
# aiokafka's records that are not about connection trouble go on under this logger's parents.
_passthrough = logging.getLogger("tessera_shared.kafka.clients")

_CONNECTION_TROUBLE = re.compile(
    r"unable (to )?connect|connect call failed|unable to bootstrap|unable to update metadata|"
    r"unable to request metadata|nodenotready|kafkaconnectionerror|connection .*(lost|closed|reset)|"
    r"coordinator .*(dead|unknown|not available)|failed fetch messages|requesttimedout|"
    r"connection refused|no brokers available|group coordinator",
    re.IGNORECASE,
)


class KafkaOutage:
    """Whether Kafka is reachable, as the process's clients found it, and what was held back."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, summary_every: float = SUMMARY_EVERY) -> None:
        self._clock = clock
        self.summary_every = summary_every
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.suppressed = 0
        self._last_summary = 0.0
        self._last_error = ""

    def failed(self, source: str, error: str) -> None:
        """A client could not reach Kafka: the first failure is logged, the rest counted."""
        now = self._clock()
        with self._lock:
            if self.down_since is None:
                self.down_since = self._last_summary = now
                self.suppressed = 0
                self._last_error = error
                line: tuple[str, tuple[object, ...]] | None = (
                    "Kafka unreachable (%s: %s); retrying quietly, a summary every %.0f s until it is back",
                    (source, error[:300], self.summary_every),
                )
            else:
                self.suppressed += 1
                self._last_error = error
                line = None
                if now - self._last_summary >= self.summary_every:
                    line = (
                        ("Kafka still unreachable after %.0f s (%d failed attempts since the last line; last: %s)"),
                        (now - self.down_since, self.suppressed, error[:300]),
                    )
                    self._last_summary = now
                    self.suppressed = 0
        if line is not None:
            log.warning(line[0], *line[1], extra={"kafka_state": "unreachable", "source": source})

    def recovered(self, source: str) -> None:
        """A client reached Kafka: logged once if it was down."""
        if self.down_since is None:  # the common case, without the lock
            return
        with self._lock:
            if self.down_since is None:
                return
            down_for, held = self._clock() - self.down_since, self.suppressed
            self.down_since = None
            self.suppressed = 0
        log.warning(
            "Kafka reachable again after %.0f s (%d failed attempts since the last line)",
            down_for,
            held,
            extra={"kafka_state": "reachable", "source": source},
        )

    @property
    def down(self) -> bool:
        return self.down_since is not None


OUTAGE = KafkaOutage()


def is_kafka_failure(exc: BaseException) -> bool:
    """A failure to reach Kafka (not the database's, which the callers log as before)."""
    return isinstance(exc, KafkaError) or (isinstance(exc, TimeoutError) and _from_kafka(exc))


def _from_kafka(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if "/aiokafka/" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


class _AiokafkaFunnel(logging.Handler):
    """On the ``aiokafka`` logger (which then no longer propagates): connection trouble at WARNING
    or above goes to the outage, anything else on as it was."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.levelno >= logging.WARNING and _CONNECTION_TROUBLE.search(record.getMessage()):
                OUTAGE.failed(record.name, record.getMessage())
                return
        except Exception:
            self.handleError(record)
            return
        _passthrough.handle(record)


_installed = False


def quiet_kafka_outages() -> None:
    """Route aiokafka's log records through the outage (idempotent, once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    clients = logging.getLogger("aiokafka")
    clients.addHandler(_AiokafkaFunnel())
    clients.propagate = False
