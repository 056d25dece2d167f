"""Process-wide tuning for a long-running service: the garbage collector."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from tessera_shared.settings import ServiceSettings

log = logging.getLogger(__name__)


_startup_garbage_collected = False


@contextmanager
def collector_tuned(settings: ServiceSettings) -> Iterator[None]:
    """The garbage collector as a long-running service wants it, for as long as it runs: a
    larger young generation, and what startup made frozen out of the collector's passes."""
    global _startup_garbage_collected
    thresholds = gc.get_threshold()
    if settings.gc_young_threshold:
        gc.set_threshold(settings.gc_young_threshold, *thresholds[1:])
    if settings.gc_freeze_after_start:
        if not _startup_garbage_collected:
            # Startup's own garbage first (~2k objects for a service): a frozen cycle is never
            # collected. Once per process: a full pass over a test process's heap at every app
            # start (a fuzz case each) would cost more than it keeps.
            gc.collect()
            _startup_garbage_collected = True
        gc.freeze()
    try:
        yield
    finally:
        if settings.gc_freeze_after_start:
            gc.unfreeze()
        gc.set_threshold(*thresholds)
