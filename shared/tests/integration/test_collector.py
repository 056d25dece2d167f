"""A running service tunes the garbage collector, and gives it back as it found it at shutdown."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from tessera_shared import process as process_module
from tessera_shared.app import ServiceSpec, create_service_app
from tessera_shared.process import collector_tuned
from tessera_shared.settings import ServiceSettings
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import running


@pytest.fixture
def default_collector() -> Iterator[tuple[int, int, int]]:
    """Python's own thresholds and nothing frozen, whatever an earlier test left."""
    before = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*before)


async def test_a_running_service_has_a_larger_young_generation_and_its_startup_frozen(
    databases: DatabaseFactory,
    default_collector: tuple[int, int, int],
) -> None:
    app = create_service_app(
        ServiceSpec(name="sales", title="t", description="t", routers=[], migrations=None),
        ServiceSettings(
            database_url=await databases.empty("sqlite"), kafka_enabled=False, log_json=False, gc_young_threshold=12_345
        ),
    )
    async with running(app) as client:
        assert gc.get_threshold() == (12_345, 10, 10)
        # Startup's objects (the app, its routes, the ORM's mappers, modules) are out of the passes.
        assert gc.get_freeze_count() > 10_000
        assert (await client.get("/healthz")).status_code == 200
    assert gc.get_threshold() == default_collector
    assert gc.get_freeze_count() == 0


def test_the_tuning_can_be_turned_off(default_collector: tuple[int, int, int]) -> None:
    settings = ServiceSettings(gc_young_threshold=0, gc_freeze_after_start=False)
    with collector_tuned(settings):
        assert gc.get_threshold() == default_collector
        assert gc.get_freeze_count() == 0


def test_startup_garbage_is_collected_before_the_first_freeze(
    default_collector: tuple[int, int, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:

    monkeypatch.setattr(process_module, "_startup_garbage_collected", False)  # as in a new process

    class Node:
        def __init__(self) -> None:
            self.me = self  # a cycle: only the collector frees it

    garbage = Node()
    ref = weakref.ref(garbage)
    del garbage
    with collector_tuned(ServiceSettings()):
        assert ref() is None  # collected, not frozen for the life of the process
        assert gc.get_threshold()[0] == ServiceSettings().gc_young_threshold
    # A later start in the same process (a test process starts many apps) skips the full pass;
    # what it froze is collectable again once the service has stopped.
    garbage = Node()
    ref = weakref.ref(garbage)
    del garbage
    with collector_tuned(ServiceSettings()):
        assert ref() is not None
    gc.collect()
    assert ref() is None
