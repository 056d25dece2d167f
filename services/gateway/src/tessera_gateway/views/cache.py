"""A cache of composed 360 views, kept current by the events every service publishes.

A view of customer X may be stored only if, when its composition started,

- the gateway was reading every service's topic (``Freshness.live``), and
- every event about X it had seen was *settled*: each service that consumes that event's topic
  had committed its offset past it. Offsets are committed only after the effect, so the
  effects of those events (billing's invoice after ``deal.won``, the customer's timeline line)
  were in the services' databases before the fetches began;

and no event about X arrived while it was being composed. An event about X drops every stored
view of X at once. What events cannot tell is bounded otherwise: a write through this gateway
drops the views of the customer it names (in its path or its answer's ``customer_id``) and
every view its caller had cached (read-your-writes), before any event; every write a client can
see publishes one (docs/domain.md §6.2), so another gateway replica's write drops the views here
as soon as its event is read (tests/e2e/test_views_across_gateways.py); every view also expires
after a TTL, a backstop; ``Cache-Control: no-cache`` composes afresh. When the gateway stops
reading the topics (broker lost), everything is dropped and nothing is stored until it reads
them again.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

# (topic, partition)
Partition = tuple[str, int]
# A composition running longer than this (the view deadline is seconds) is not stored.
IN_FLIGHT_LIMIT = 60.0


@dataclass(frozen=True, eq=False)  # each token is itself (identity), even two for one customer at once
class Token:
    """Handed out when a composition starts; checked before its result is stored."""

    customer: str
    seq: int
    epoch: int
    started: float


@dataclass(slots=True)
class _Pending:
    customer: str
    seq: int  # the gateway's count of events when the last one about this customer arrived
    offsets: dict[Partition, int] = field(default_factory=dict)  # the latest such event per partition


class Freshness:
    """What the gateway knows about how current each customer's data are in every service.

    ``consumers`` maps a topic to the consumer groups that react to it; ``committed`` is fed
    with those groups' committed offsets (the next offset each will read).
    """

    def __init__(
        self,
        consumers: Mapping[str, Iterable[str]],
        *,
        drop: Callable[[str], None] = lambda _: None,
        clear: Callable[[], None] = lambda: None,
    ) -> None:
        self._drop, self._clear = drop, clear
        self.consumers = {topic: tuple(groups) for topic, groups in consumers.items()}
        self.live = False
        self.epoch = 0  # moves whenever continuity is lost: nothing composed before may be stored
        self.seq = 0
        self.pending: dict[str, _Pending] = {}
        # Per partition, the pending events in offset order: pruning walks only what was settled since.
        self._order: dict[Partition, deque[tuple[int, _Pending]]] = {}
        self._held: list[_Pending] = []  # settled, but kept for a composition in flight
        self.committed: dict[str, dict[Partition, int]] = {}
        self._in_flight: set[Token] = set()  # compositions begun and not ended, for pruning

    # --- the watcher's side ----------------------------------------------------------------
    def event(self, customers: Iterable[str], topic: str, partition: int, offset: int) -> None:
        self.seq += 1
        key = (topic, partition)
        order = self._order.get(key)
        if order is None:
            order = self._order[key] = deque()
        for customer in customers:
            entry = self.pending.get(customer)
            if entry is None:
                entry = self.pending[customer] = _Pending(customer, self.seq)
            entry.seq = self.seq
            entry.offsets[key] = max(offset, entry.offsets.get(key, -1))
            order.append((offset, entry))
            self._drop(customer)

    def offsets(self, group: str, committed: Mapping[Partition, int]) -> None:
        self.committed[group] = dict(committed)

    def set_live(self, live: bool) -> None:
        if live != self.live:
            self.epoch += 1
            self.live = live
            if not live:  # events may be missed from now on: forget everything, store nothing
                self.pending.clear()
                self._order.clear()
                self._held.clear()
                self._clear()

    def prune(self) -> None:
        """Forget customers whose events are settled and older than every composition in flight."""
        now = time.monotonic()
        # A composition that never ended (its task was cancelled) holds nothing back for long.
        self._in_flight = {t for t in self._in_flight if now - t.started <= IN_FLIGHT_LIMIT}
        oldest = min((t.seq for t in self._in_flight), default=self.seq + 1)
        candidates, self._held = self._held, []
        for key, order in self._order.items():
            upto = self.applied_upto(key)
            while order and order[0][0] < upto:
                candidates.append(order.popleft()[1])
        for entry in candidates:
            if self.pending.get(entry.customer) is not entry or not self._settled(entry):
                continue  # gone already, or a later event of it is still pending (and queued)
            if entry.seq < oldest:
                del self.pending[entry.customer]
            else:
                self._held.append(entry)

    # --- the view's side -------------------------------------------------------------------
    def applied_upto(self, key: Partition) -> float:
        """The offset below which every group reacting to the partition's topic has applied all
        (-1 while one of them has committed nothing there; infinite when none reacts)."""
        return min((self.committed.get(g, {}).get(key, -1) for g in self.consumers.get(key[0], ())), default=math.inf)

    def _settled(self, pending: _Pending) -> bool:
        return all(offset < self.applied_upto(key) for key, offset in pending.offsets.items())

    def begin(self, customer: str) -> Token | None:
        """A token if a view of ``customer`` composed from now on may be stored, else None."""
        if not self.live:
            return None
        pending = self.pending.get(customer)
        if pending is not None and not self._settled(pending):
            return None
        token = Token(customer, self.seq, self.epoch, time.monotonic())
        self._in_flight.add(token)
        return token

    def end(self, token: Token) -> bool:
        """Whether the view composed under ``token`` may be stored (no event about it since)."""
        self._in_flight.discard(token)
        if not self.live or token.epoch != self.epoch or time.monotonic() - token.started > IN_FLIGHT_LIMIT:
            return False
        pending = self.pending.get(token.customer)
        return pending is None or pending.seq <= token.seq


@dataclass
class Entry:
    body: bytes
    etag: str
    stored: float
    subject: str


class ViewCache:
    """Composed views by (customer, caller, roles): least recently used out, within a byte budget."""

    def __init__(self, *, ttl: float, max_bytes: int, clock=time.monotonic) -> None:
        self.ttl = ttl
        self.max_bytes = max_bytes
        self.clock = clock
        self.bytes = 0
        self._entries: OrderedDict[tuple[str, str, str], Entry] = OrderedDict()
        self._by_customer: dict[str, set[tuple[str, str, str]]] = {}
        self._by_subject: dict[str, set[tuple[str, str, str]]] = {}
        self.hits = self.misses = self.stores = self.drops = 0

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def key(customer: str, subject: str, roles: Iterable[str]) -> tuple[str, str, str]:
        return customer, subject, ",".join(sorted(roles))

    def get(self, key: tuple[str, str, str]) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None or self.clock() - entry.stored > self.ttl:
            if entry is not None:
                self._remove(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def age(self, entry: Entry) -> float:
        return self.clock() - entry.stored

    def put(self, key: tuple[str, str, str], body: bytes, etag: str) -> None:
        if len(body) > self.max_bytes // 4:
            return  # one huge view must not evict everything else
        if key in self._entries:
            self._remove(key)
        self._entries[key] = Entry(body, etag, self.clock(), key[1])
        self.bytes += len(body)
        self._by_customer.setdefault(key[0], set()).add(key)
        self._by_subject.setdefault(key[1], set()).add(key)
        self.stores += 1
        while self.bytes > self.max_bytes:
            self._remove(next(iter(self._entries)))

    def drop_customer(self, customer: str) -> None:
        for key in list(self._by_customer.get(customer, ())):
            self._remove(key)
            self.drops += 1

    def drop_subject(self, subject: str) -> None:
        for key in list(self._by_subject.get(subject, ())):
            self._remove(key)
            self.drops += 1

    def clear(self) -> None:
        self.drops += len(self._entries)
        self._entries.clear()
        self._by_customer.clear()
        self._by_subject.clear()
        self.bytes = 0

    def _remove(self, key: tuple[str, str, str]) -> None:
        entry = self._entries.pop(key)
        self.bytes -= len(entry.body)
        for index, name in ((self._by_customer, key[0]), (self._by_subject, key[1])):
            keys = index.get(name)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del index[name]


# Which services react to each service's events (docs/domain.md §6.1; a test holds it to the services' own
# declarations): a view is settled when all of these have committed past the customer's events.
CONSUMERS_OF = {
    "customer": ("sales", "service-desk", "billing"),
    "sales": ("customer", "billing"),
    "service-desk": ("customer", "billing"),
    "billing": ("customer", "sales"),
    # notification.failed: a customer's undelivered e-mail on the timeline (key: the customer).
    "notifications": ("customer",),
}


@dataclass
class Views:
    """The gateway's view cache and what keeps it current."""

    cache: ViewCache
    freshness: Freshness

    @classmethod
    def build(cls, *, ttl: float, max_bytes: int, topics: Mapping[str, str], groups: Mapping[str, str]) -> Views:
        """``topics``/``groups``: service -> its topic / its consumer group."""
        cache = ViewCache(ttl=ttl, max_bytes=max_bytes)
        consumers = {topics[s]: [groups[r] for r in CONSUMERS_OF[s]] for s in topics}
        return cls(cache, Freshness(consumers, drop=cache.drop_customer, clear=cache.clear))

    def after_write(self, subject: str, customers: Iterable[str]) -> None:
        """A write went through this gateway: its caller reads their own writes, and nobody
        keeps a view of the customers it names."""
        self.cache.drop_subject(subject)
        for customer in customers:
            self.cache.drop_customer(customer)
