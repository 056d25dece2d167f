"""Time and identity: aware UTC now, time-ordered ids."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


_entropy = threading.local()


def _random_bytes(n: int) -> bytes:
    """os.urandom drawn 4 KiB at a time per thread: one call per id released and re-took the GIL
    (a tenth of a bulk import's main thread waited there while the parsing thread held it)."""
    buf, pos = getattr(_entropy, "buf", b""), getattr(_entropy, "pos", 0)
    if pos + n > len(buf):
        buf, pos = os.urandom(4096), 0
        _entropy.buf = buf
    _entropy.pos = pos + n
    return buf[pos : pos + n]


def new_id() -> uuid.UUID:
    """Time-ordered UUIDv7-style id: keeps B-tree inserts local and sorts by creation."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(_random_bytes(10)) & ((1 << 74) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62)
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)
