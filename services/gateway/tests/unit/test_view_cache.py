"""The 360 view cache's rules (views/cache.py): when a view may be stored, what drops it."""

from __future__ import annotations

import uuid

import orjson
import pytest

from tessera_gateway.views.cache import CONSUMERS_OF, ViewCache, Views
from tessera_gateway.views.watcher import customers_of

TOPICS = {s: f"crm.{s}" for s in CONSUMERS_OF}
GROUPS = {s: f"tessera-{s}" for s in CONSUMERS_OF}
CUSTOMER = str(uuid.uuid4())


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def views() -> Views:
    v = Views.build(ttl=30, max_bytes=1_000_000, topics=TOPICS, groups=GROUPS)
    v.freshness.set_live(True)
    return v


def settle(views: Views, topic: str, partition: int, next_offset: int) -> None:
    """Every group reacting to ``topic`` has committed up to ``next_offset``."""
    for group in views.freshness.consumers[topic]:
        committed = dict(views.freshness.committed.get(group, {}))
        committed[(topic, partition)] = next_offset
        views.freshness.offsets(group, committed)


def compose_and_store(views: Views, customer: str = CUSTOMER, subject: str = "admin") -> bool:
    token = views.freshness.begin(customer)
    if token is None or not views.freshness.end(token):
        return False
    views.cache.put(ViewCache.key(customer, subject, ["admin"]), b'{"v": 1}', 'W/"1"')
    return True


def test_consumers_match_what_each_service_consumes() -> None:
    import tessera_billing.main as billing
    import tessera_customer.main as customer
    import tessera_sales.main as sales
    import tessera_service_desk.main as desk
    from tessera_billing.settings import BillingSettings
    from tessera_customer.settings import CustomerSettings
    from tessera_sales.settings import SalesSettings
    from tessera_service_desk.settings import ServiceDeskSettings

    consumes = {
        name: set(module.spec(cls(kafka_enabled=False, jobs_enabled=False)).consumes)
        for name, module, cls in (
            ("customer", customer, CustomerSettings),
            ("sales", sales, SalesSettings),
            ("service-desk", desk, ServiceDeskSettings),
            ("billing", billing, BillingSettings),
        )
    }
    reacting = {s: {c for c, topics in consumes.items() if s in topics} for s in CONSUMERS_OF}
    assert reacting == {s: set(groups) for s, groups in CONSUMERS_OF.items()}


def test_a_view_is_stored_when_nothing_is_pending(views: Views) -> None:
    assert compose_and_store(views)
    assert views.cache.get(ViewCache.key(CUSTOMER, "admin", ["admin"])) is not None


def test_nothing_is_stored_or_served_while_not_following_the_topics() -> None:
    views = Views.build(ttl=30, max_bytes=1_000_000, topics=TOPICS, groups=GROUPS)
    assert views.freshness.begin(CUSTOMER) is None
    views.freshness.set_live(True)
    assert compose_and_store(views)
    views.freshness.set_live(False)  # the broker is lost: events may be missed from now on
    assert len(views.cache) == 0
    assert views.freshness.begin(CUSTOMER) is None


def test_losing_the_topics_during_a_composition_forbids_storing_it(views: Views) -> None:
    token = views.freshness.begin(CUSTOMER)
    assert token is not None
    views.freshness.set_live(False)
    views.freshness.set_live(True)
    assert not views.freshness.end(token)


def test_an_event_drops_every_view_of_its_customer_only(views: Views) -> None:
    other = str(uuid.uuid4())
    for subject in ("admin", "rep1"):
        assert compose_and_store(views, subject=subject)
    assert compose_and_store(views, customer=other)
    views.freshness.event([CUSTOMER], "crm.sales", 2, 41)
    assert views.cache.get(ViewCache.key(CUSTOMER, "admin", ["admin"])) is None
    assert views.cache.get(ViewCache.key(CUSTOMER, "rep1", ["admin"])) is None
    assert views.cache.get(ViewCache.key(other, "admin", ["admin"])) is not None


def test_a_view_is_not_stored_until_every_reacting_service_has_applied_the_event(views: Views) -> None:
    """deal.won is in crm.sales at offset 41: billing must have invoiced and the customer service
    must have written its timeline line (both commit their offsets after the effect)."""
    views.freshness.event([CUSTOMER], "crm.sales", 2, 41)
    assert views.freshness.begin(CUSTOMER) is None
    views.freshness.offsets("tessera-billing", {("crm.sales", 2): 42})
    assert views.freshness.begin(CUSTOMER) is None  # the customer service has not
    views.freshness.offsets("tessera-customer", {("crm.sales", 2): 41})
    assert views.freshness.begin(CUSTOMER) is None  # 41 is the next it reads: not yet applied
    views.freshness.offsets("tessera-customer", {("crm.sales", 2): 42})
    assert compose_and_store(views)


def test_groups_not_reacting_to_the_topic_are_not_waited_for(views: Views) -> None:
    views.freshness.event([CUSTOMER], "crm.service-desk", 0, 7)
    settle(views, "crm.service-desk", 0, 8)
    assert "tessera-service-desk" not in views.freshness.consumers["crm.service-desk"]
    assert compose_and_store(views)


def test_an_event_during_the_composition_forbids_storing_it(views: Views) -> None:
    token = views.freshness.begin(CUSTOMER)
    assert token is not None
    views.freshness.event([CUSTOMER], "crm.billing", 1, 5)
    settle(views, "crm.billing", 1, 6)  # even settled at once: what was fetched may predate it
    assert not views.freshness.end(token)
    assert compose_and_store(views)  # the next composition may


def test_an_event_about_another_customer_does_not_forbid_storing(views: Views) -> None:
    token = views.freshness.begin(CUSTOMER)
    assert token is not None
    views.freshness.event([str(uuid.uuid4())], "crm.billing", 1, 5)
    assert views.freshness.end(token)


def test_pruning_keeps_what_a_composition_in_flight_needs(views: Views) -> None:
    token = views.freshness.begin(CUSTOMER)
    assert token is not None
    views.freshness.event([CUSTOMER], "crm.billing", 1, 5)
    settle(views, "crm.billing", 1, 6)
    views.freshness.prune()
    assert not views.freshness.end(token)  # the event is still known to it
    views.freshness.prune()
    assert CUSTOMER not in views.freshness.pending  # settled and nobody composing: forgotten


def test_unsettled_customers_are_not_pruned(views: Views) -> None:
    views.freshness.event([CUSTOMER], "crm.customer", 3, 9)
    views.freshness.prune()
    assert views.freshness.begin(CUSTOMER) is None


def test_writes_drop_the_writers_views_and_the_customers_named(views: Views) -> None:
    named, untouched = str(uuid.uuid4()), str(uuid.uuid4())
    assert compose_and_store(views, subject="rep1")
    assert compose_and_store(views, customer=named, subject="admin")
    assert compose_and_store(views, customer=untouched, subject="admin")
    views.after_write("rep1", [named])
    assert views.cache.get(ViewCache.key(CUSTOMER, "rep1", ["admin"])) is None
    assert views.cache.get(ViewCache.key(named, "admin", ["admin"])) is None
    assert views.cache.get(ViewCache.key(untouched, "admin", ["admin"])) is not None


def test_views_expire_after_the_ttl() -> None:
    clock = Clock()
    cache = ViewCache(ttl=30, max_bytes=1000, clock=clock)
    key = ViewCache.key(CUSTOMER, "admin", ["admin"])
    cache.put(key, b"x", "e")
    clock.now = 29.9
    assert cache.get(key) is not None
    clock.now = 30.1
    assert cache.get(key) is None
    assert len(cache) == 0 and cache.bytes == 0


def test_the_byte_budget_evicts_the_least_recently_used() -> None:
    cache = ViewCache(ttl=30, max_bytes=1000)
    keys = [ViewCache.key(str(i), "admin", ["admin"]) for i in range(6)]
    for key in keys[:5]:
        cache.put(key, b"x" * 200, "e")
    assert cache.bytes == 1000
    assert cache.get(keys[0]) is not None  # now the most recent
    cache.put(keys[5], b"x" * 200, "e")
    assert cache.bytes == 1000
    assert cache.get(keys[1]) is None and cache.get(keys[0]) is not None and cache.get(keys[5]) is not None
    cache.put(ViewCache.key("big", "admin", ["admin"]), b"x" * 251, "e")  # over a quarter: not kept
    assert cache.get(ViewCache.key("big", "admin", ["admin"])) is None


def test_roles_are_part_of_the_key() -> None:
    assert ViewCache.key(CUSTOMER, "u", ["sales_rep", "admin"]) == ViewCache.key(CUSTOMER, "u", ["admin", "sales_rep"])
    assert ViewCache.key(CUSTOMER, "u", ["sales_rep"]) != ViewCache.key(CUSTOMER, "u", ["admin"])


def test_an_event_names_its_key_and_a_merge_both_customers() -> None:
    survivor, merged = uuid.uuid4(), uuid.uuid4()
    envelope = orjson.dumps(
        {
            "type": "customer.merged",
            "subject": str(survivor),
            "data": {"survivor_id": str(survivor), "merged_id": str(merged)},
        }
    )
    assert customers_of(str(survivor).encode(), envelope) == [str(survivor), str(merged)]
    assert customers_of(b"abc", b'{"type": "deal.won", "data": {}}') == ["abc"]
    assert customers_of(None, b"not json customer.merged") == []


def test_pruning_forgets_what_was_settled_and_only_that(views: Views) -> None:
    """An import publishes a burst of events; what the services have applied is forgotten."""
    customers = [str(uuid.uuid4()) for _ in range(1000)]
    for offset, customer in enumerate(customers):
        views.freshness.event([customer], "crm.customer", 0, offset)
    settle(views, "crm.customer", 0, 600)  # every reacting service is past the first 600
    views.freshness.prune()
    assert set(views.freshness.pending) == set(customers[600:])
    token = views.freshness.begin(customers[0])
    assert token is not None and views.freshness.end(token)
    assert views.freshness.begin(customers[600]) is None
    settle(views, "crm.customer", 0, 1000)
    views.freshness.prune()
    assert views.freshness.pending == {}
