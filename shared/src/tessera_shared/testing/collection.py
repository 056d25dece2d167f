"""The cyclic garbage collector paused while pytest collects (registered by the root ``conftest.py``).

Collecting the suite imports every service and test module: hundreds of thousands of objects
that all live to the end, so every pass of the collector over them (the oldest generation is
walked again and again as the heap grows) finds nothing to free. Paused, a worker's collection
took 4.5 instead of 5.4 CPU-s (each of the four workers collects every file). It runs again
before the first test, with its thresholds unchanged.
"""

from __future__ import annotations

import gc
from collections.abc import Generator

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Generator[None, object, object]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return (yield)
    finally:
        if was_enabled:
            gc.enable()
