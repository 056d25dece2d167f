"""Fault injection for the reliability suite: die at a named point, as kill -9 would.

Inactive unless the process is started with ``TESSERA_FAULT=<point>[@<n>]``, e.g.
``TESSERA_FAULT=consumer.after_effect@5``: the fifth time the consumer has committed an
effect, and before it commits the Kafka offset, the process SIGKILLs itself. Points:

- ``outbox.after_ack``: the broker acknowledged a batch; the rows are not yet marked sent.
- ``consumer.after_effect``: the effect and inbox row are committed; the offset is not.
"""

from __future__ import annotations

import os
import signal

_SPEC = os.environ.get("TESSERA_FAULT", "")
_POINT, _, _NTH = _SPEC.partition("@")
_TARGET = int(_NTH) if _NTH.isdigit() else 1
_seen = 0


def point(name: str) -> None:
    global _seen
    if not _POINT or name != _POINT:
        return
    _seen += 1
    if _seen >= _TARGET:
        os.kill(os.getpid(), signal.SIGKILL)
