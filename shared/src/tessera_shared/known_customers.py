"""The local copy of customers a service keeps from the customer service's facts: one component.

Sales, the service desk and billing each keep a ``known_customers`` table from ``crm.customer``
(customer.created, customer.updated, customer.merged, customer.erased; the desk also
customer.tier_changed). This module is that copy, written once; a service configures it.

The table (``KnownCustomerFields``, a column set each service's table model inherits, so the
table lands in the service's own metadata beside its other tables)::

    class KnownCustomer(Base, KnownCustomerFields, table=True):
        service_level: str = ...  # a service's own extra columns, if any

    customer_id PK | name | owner_id (indexed) | status | tier | tier_changed_at
    | merged_into | erased_at | version | updated_at

Conventions, the same in every service:

* ``name`` is ``UNNAMED`` (``""``) while the row was made by another fact before its
  customer.created (a tier change, a merge, an erasure, a desk's service level): customer.created
  then fills in the name and owner. It is ``ERASED`` (``"[erased]"``) once the customer is erased,
  and nothing names an erased row again. The same ``ERASED`` marker is what scrubs write over
  personal texts in a service's own records (a lead's name, a ticket's subject).
* ``merged_into``: set on a merged-away id by customer.merged; the id lives on as an alias of the
  survivor (rows aliasing the merged id are pointed on to the survivor too). ``known`` follows it.
* ``erased_at``: set by customer.erased; the row stays (the id is known to be gone).
* ``status``: the customer's status as customer.created announced it; ``None`` while not announced.
  Merges and erasures do not write it: ``merged_into`` and ``erased_at`` tell those apart.
* ``tier`` / ``tier_changed_at``: kept by ``tier_changed`` where a service subscribes it (the desk);
  a late, older announcement never undoes a newer tier. ``DEFAULT_TIER`` otherwise.
* ``version``: the customer record's version last applied; a late, older customer.updated loses.

What a service configures (``KnownCustomers(model, repoint=..., scrubs=..., on_merged=..., on_erased=...)``):
the models whose ``customer_id`` a merge re-points to the survivor (``Repoint``), the values an
erasure writes over its records (``Scrub``), and hooks for work of its own (billing's credit
profile fold, the desk's re-tiering of open tickets). Its handlers: ``created()`` (batched, with
further batched work of the service's own), ``updated()`` (batched too), ``merged``, ``erased``, ``tier_changed()``.
Its lookup: ``known(session, customer_id)``; the rule for writes in two steps (docs/domain.md §10.2):

* ``ensure(sessions, customer_id, directory)``, before the write's transaction opens (a
  ``ReadThrough`` bound to the request does it in the routers): an id this copy does not know is
  read through the customer service (``tessera_shared.customer_directory``) with no database
  session open, and the answer is kept (``remember``) in a short transaction of its own, so the
  later customer.created merges with it; no such customer, a merged or an erased one → 422 naming
  ``customer_id``; the customer service unreachable → 503 with ``Retry-After``, nothing kept.
* ``require(session, customer_id)``, inside the write's transaction: the local copy only, never a
  remote call (a remote call there would hold the transaction, and the locks it took, for up to
  ``upstream_timeout``); merged or erased → 422.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar

from fastapi import Request
from sqlalchemy import case, func, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, SQLModel

from tessera_shared.consumer import Batched
from tessera_shared.customer_directory import (
    CustomerDirectory,
    CustomerFacts,
    CustomerServiceUnavailable,
    MergedAway,
    NoSuchCustomer,
    Unreachable,
)
from tessera_shared.db import UTCDateTime, read_session, table_of, unit_of_work, upsert, utcnow
from tessera_shared.db.shred import shred_after_commit
from tessera_shared.errors import InvalidInput
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import (
    CustomerCreated,
    CustomerErased,
    CustomerMerged,
    CustomerTierChanged,
    CustomerUpdated,
)
from tessera_shared.http.idempotency import forget_replies
from tessera_shared.outbox import forget_sent

TABLE = "known_customers"
UNNAMED = ""
"""The name of a row made before its customer.created; that event fills it in."""
ERASED = "[erased]"
"""The name of an erased customer, and what scrubs write over personal texts."""
DEFAULT_TIER = "ordinary"
MAX_HOPS = 10
"""How many merge aliases ``known`` follows at most (a chain is normally one hop: merges compact it)."""


class KnownCustomerFields(SQLModel):
    """The columns of every service's ``known_customers`` table (a service's table model inherits
    them after its own base: ``class KnownCustomer(Base, KnownCustomerFields, table=True)``)."""

    __tablename__: ClassVar[str] = TABLE

    customer_id: uuid.UUID = Field(primary_key=True)
    name: str = Field(default=UNNAMED, max_length=200)
    owner_id: str | None = Field(default=None, max_length=200, index=True)
    status: str | None = Field(default=None, max_length=20)
    tier: str = Field(default=DEFAULT_TIER, max_length=20, sa_column_kwargs={"server_default": DEFAULT_TIER})
    # Guards against a stale tier announcement overwriting a newer one.
    tier_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set by customer.merged: the id lives on as an alias of the survivor.
    merged_into: uuid.UUID | None = Field(default=None)
    erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The customer record's version last applied: a late, older customer.updated never wins.
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


R = TypeVar("R", bound=KnownCustomerFields)


@dataclass(frozen=True, slots=True)
class Repoint:
    """A model whose rows name a customer in ``column``: a merge moves them to the survivor."""

    model: type[SQLModel]
    column: str = "customer_id"


@dataclass(frozen=True, slots=True)
class Scrub:
    """Values an erasure writes over a model's rows of the erased customer.

    The rows are those whose ``column`` is the customer, or, for rows that name the customer
    through another table (a ticket's comments), those ``rows_of(customer_id)`` selects; ``only``
    narrows them further (rows that still hold something to remove)."""

    model: type[SQLModel]
    values: Mapping[str, object]
    column: str = "customer_id"
    only: tuple[ColumnElement[bool], ...] = ()
    rows_of: Callable[[uuid.UUID], ColumnElement[bool]] | None = None


@dataclass(frozen=True, slots=True)
class Lookup(Generic[R]):
    """What the local copy says about ``customer_id``.

    ``row`` is the id's own row (``None``: not known here, perhaps not yet); for a merged id,
    ``survivor_id`` is where its alias chain ends and ``current`` that survivor's row (``None``
    when the survivor is not known here yet); for any other id ``current`` is ``row``."""

    customer_id: uuid.UUID
    row: R | None
    current: R | None
    survivor_id: uuid.UUID | None

    @property
    def unknown(self) -> bool:
        return self.row is None

    @property
    def merged(self) -> bool:
        return self.row is not None and self.row.merged_into is not None

    @property
    def erased(self) -> bool:
        return self.row is not None and self.row.erased_at is not None

    @property
    def usable(self) -> bool:
        """Known, neither merged away nor erased."""
        return self.row is not None and not self.merged and not self.erased


F = TypeVar("F", CustomerUpdated, CustomerTierChanged)


def newest_per_customer(events: list[tuple[CloudEvent, F]], order: Callable[[F], Any]) -> dict[uuid.UUID, F]:
    """Each customer's newest fact of a run (by ``order``; the first of equals wins)."""
    newest: dict[uuid.UUID, F] = {}
    for _, data in events:
        seen = newest.get(data.customer_id)
        if seen is None or order(data) > order(seen):
            newest[data.customer_id] = data
    return newest


CreatedWork: TypeAlias = Callable[[AsyncSession, list[tuple[CloudEvent, CustomerCreated]]], Awaitable[None]]
UpdatedWork: TypeAlias = Callable[[AsyncSession, dict[uuid.UUID, CustomerUpdated]], Awaitable[None]]
MergeHook: TypeAlias = Callable[[AsyncSession, CustomerMerged], Awaitable[None]]
EraseHook: TypeAlias = Callable[[AsyncSession, CustomerErased], Awaitable[None]]
TierHook: TypeAlias = Callable[[AsyncSession, dict[uuid.UUID, CustomerTierChanged]], Awaitable[None]]


class KnownCustomers(Generic[R]):
    """A service's local customer copy in its table ``model``, with what merges and erasures do to
    the service's own records."""

    def __init__(
        self,
        model: type[R],
        *,
        repoint: Sequence[Repoint] = (),
        scrubs: Sequence[Scrub] = (),
        on_merged: Sequence[MergeHook] = (),
        on_erased: Sequence[EraseHook] = (),
    ) -> None:
        self.model = model
        self.repoint = tuple(repoint)
        self.scrubs = tuple(scrubs)
        self.on_merged = tuple(on_merged)
        self.on_erased = tuple(on_erased)

    # -- customer.created ------------------------------------------------------------------------

    def created(self, *also: CreatedWork) -> Batched[CustomerCreated]:
        """The batched customer.created handler; ``also`` runs after it on the same run of events
        (billing's credit profiles)."""

        async def apply(session: AsyncSession, events: list[tuple[CloudEvent, CustomerCreated]]) -> None:
            await self.apply_created(session, events)
            for work in also:
                await work(session, events)

        return Batched(apply)

    async def apply_created(self, session: AsyncSession, events: list[tuple[CloudEvent, CustomerCreated]]) -> None:
        """One statement for the run. A row made early (``UNNAMED``, not erased) learns the name and
        owner; one an update made first keeps what it has; a status not yet known is learned."""
        now = utcnow()
        rows: dict[uuid.UUID, dict[str, object]] = {}
        for _, data in events:  # a repeat within the run: the first wins
            rows.setdefault(
                data.customer_id,
                {
                    "customer_id": data.customer_id,
                    "name": data.name,
                    "owner_id": data.owner_id,
                    "status": data.status,
                    "tier": DEFAULT_TIER,
                    "version": 1,
                    "updated_at": now,
                },
            )
        if not rows:
            return
        table = table_of(self.model)
        stmt = upsert(session, table)
        early = (table.c.name == UNNAMED) & table.c.erased_at.is_(None)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["customer_id"],
                set_={
                    "name": case((early, stmt.excluded.name), else_=table.c.name),
                    "owner_id": case((early, stmt.excluded.owner_id), else_=table.c.owner_id),
                    "status": func.coalesce(table.c.status, stmt.excluded.status),
                },
                where=early | table.c.status.is_(None),
            ),
            list(rows.values()),
        )

    # -- customer.updated ------------------------------------------------------------------------

    def updated(self, *also: UpdatedWork) -> Batched[CustomerUpdated]:
        """The batched customer.updated handler; ``also`` runs after it with the customers whose
        copy moved (billing's bill-to names)."""

        async def apply(session: AsyncSession, events: list[tuple[CloudEvent, CustomerUpdated]]) -> None:
            moved = await self.apply_updated(session, events)
            for work in also:
                await work(session, moved)

        return Batched(apply)

    async def apply_updated(
        self, session: AsyncSession, events: list[tuple[CloudEvent, CustomerUpdated]]
    ) -> dict[uuid.UUID, CustomerUpdated]:
        """Name and owner follow the newest version; an erased row stays erased; a customer not
        seen yet gets its row. One statement for the run (each customer's newest version of it);
        returns the customers whose row now holds that version (made or moved), with it."""
        newest = newest_per_customer(events, lambda d: d.version)
        if not newest:
            return {}
        table = table_of(self.model)
        stmt = upsert(session, table)
        rows = [
            {
                "customer_id": d.customer_id,
                "name": d.name,
                "owner_id": d.owner_id,
                "version": d.version,
                "updated_at": d.updated_at,
            }
            for d in sorted(newest.values(), key=lambda d: d.customer_id)  # rows locked in key order
        ]
        moved = await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["customer_id"],
                set_={
                    "name": stmt.excluded.name,
                    "owner_id": stmt.excluded.owner_id,
                    "version": stmt.excluded.version,
                    "updated_at": stmt.excluded.updated_at,
                },
                where=(stmt.excluded.version > table.c.version) & table.c.erased_at.is_(None),
            ).returning(table.c.customer_id),
            rows,
        )
        return {cid: newest[cid] for cid in moved.scalars()}

    # -- customer.merged -------------------------------------------------------------------------

    async def merged(self, session: AsyncSession, event: CloudEvent, data: CustomerMerged) -> None:
        """Everything the merged customer had now belongs to the survivor; the merged id becomes
        its alias (kept even when unknown so far: a record naming the old id finds the survivor).
        A second delivery finds nothing left to move."""
        old, new = data.merged_id, data.survivor_id
        if old == new:
            return
        for r in self.repoint:
            column = table_of(r.model).c[r.column]
            await session.execute(update(r.model).where(column == old).values({r.column: new}))
        for hook in self.on_merged:
            await hook(session, data)
        table = table_of(self.model)
        # Aliases of the merged id now alias the survivor: a chain stays one hop long.
        await session.execute(
            update(self.model).where(table.c.merged_into == old).values(merged_into=new, updated_at=data.merged_at)
        )
        row = await session.get(self.model, old)
        if row is None:
            row = self.model(customer_id=old, name=UNNAMED)
            session.add(row)
        row.merged_into, row.updated_at = new, data.merged_at

    # -- customer.erased -------------------------------------------------------------------------

    async def erased(self, session: AsyncSession, event: CloudEvent, data: CustomerErased) -> None:
        """Personal data goes (the configured scrubs, then the hooks); business facts stay. The row
        is kept, named ``ERASED``, so that the id is known to be gone."""
        cid = data.customer_id
        for scrub in self.scrubs:
            rows = scrub.rows_of(cid) if scrub.rows_of is not None else table_of(scrub.model).c[scrub.column] == cid
            await session.execute(update(scrub.model).where(rows, *scrub.only).values(dict(scrub.values)))
        for hook in self.on_erased:
            await hook(session, data)
        await forget_sent(session, [str(cid)])
        await forget_replies(session, cid)
        shred_after_commit(session)  # SQLite's WAL keeps the overwritten rows' images otherwise
        row = await session.get(self.model, cid)
        if row is None:
            row = self.model(customer_id=cid, name=ERASED)
            session.add(row)
        row.name, row.erased_at, row.updated_at = ERASED, data.erased_at, data.erased_at

    # -- customer.tier_changed -------------------------------------------------------------------

    def tier_changed(self, then: TierHook | None = None) -> Batched[CustomerTierChanged]:
        """The batched customer.tier_changed handler; ``then`` gets the customers whose tier moved
        (each with its newest announcement), e.g. to re-tier their open tickets."""

        async def apply(session: AsyncSession, events: list[tuple[CloudEvent, CustomerTierChanged]]) -> None:
            changed = await self.apply_tiers(session, events)
            if changed and then is not None:
                await then(session, changed)

        return Batched(apply)

    async def apply_tiers(
        self, session: AsyncSession, events: list[tuple[CloudEvent, CustomerTierChanged]]
    ) -> dict[uuid.UUID, CustomerTierChanged]:
        """The run's newest tier per customer, in one statement; returns those that changed a row (a
        row is made early for a customer not seen yet: its name follows with customer.created)."""
        newest = newest_per_customer(events, lambda d: d.changed_at)
        if not newest:
            return {}
        table = table_of(self.model)
        stmt = upsert(session, table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["customer_id"],
            set_={
                "tier": stmt.excluded.tier,
                "tier_changed_at": stmt.excluded.tier_changed_at,
                "updated_at": stmt.excluded.updated_at,
            },
            # An older announcement arriving late must not undo a newer tier.
            where=table.c.tier_changed_at.is_(None) | (table.c.tier_changed_at < stmt.excluded.tier_changed_at),
        ).returning(table.c.customer_id)
        rows = [
            {
                "customer_id": d.customer_id,
                "name": UNNAMED,
                "tier": d.to_tier,
                "tier_changed_at": d.changed_at,
                "version": 1,
                "updated_at": d.changed_at,
            }
            for d in newest.values()
        ]
        changed: set[uuid.UUID] = set((await session.execute(stmt, rows)).scalars())
        return {cid: newest[cid] for cid in newest if cid in changed}

    # -- the lookup ------------------------------------------------------------------------------

    async def known(self, session: AsyncSession, customer_id: uuid.UUID) -> Lookup[R]:
        """What this copy knows of ``customer_id``, following a merge alias (at most ``MAX_HOPS``
        hops; a loop ends where it would repeat)."""
        row = await session.get(self.model, customer_id)
        current, survivor = row, None
        seen = {customer_id}
        while current is not None and current.merged_into is not None and len(seen) <= MAX_HOPS:
            target = current.merged_into
            if target in seen:
                break
            seen.add(target)
            survivor = target
            current = await session.get(self.model, target)
        return Lookup(customer_id=customer_id, row=row, current=current, survivor_id=survivor)

    # -- the rule for writes: known customers only (docs/domain.md §10.2) ----------------------

    async def remember(self, session: AsyncSession, facts: CustomerFacts) -> None:
        """Keep the customer service's own answer about a customer (a read-through, a conversion's
        new customer) as the local row: the statement customer.created makes, so whichever of the
        two comes second merges with the first (an early row learns the name, owner and version; a
        named one keeps what it has)."""
        table = table_of(self.model)
        stmt = upsert(session, table)
        early = (table.c.name == UNNAMED) & table.c.erased_at.is_(None)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["customer_id"],
                set_={
                    "name": case((early, stmt.excluded.name), else_=table.c.name),
                    "owner_id": case((early, stmt.excluded.owner_id), else_=table.c.owner_id),
                    "version": case((early, stmt.excluded.version), else_=table.c.version),
                    "status": func.coalesce(table.c.status, stmt.excluded.status),
                },
                where=early | table.c.status.is_(None),
            ),
            [
                {
                    "customer_id": facts.id,
                    "name": facts.name or UNNAMED,
                    "owner_id": facts.owner_id,
                    "status": facts.status or None,
                    "tier": DEFAULT_TIER,
                    "version": facts.version,
                    "updated_at": utcnow(),
                }
            ],
        )

    async def ensure(
        self,
        sessions: async_sessionmaker[AsyncSession],
        customer_id: uuid.UUID,
        directory: CustomerDirectory,
        *,
        field: str = "customer_id",
        location: str = "body",
    ) -> None:
        """The read-through, called before the write opens its transaction: no database session is
        open while the customer service is asked.

        Known here (even merged or erased): nothing to do, ``require`` decides on the local copy.
        Not known here (not announced yet, or never): the customer service is asked once; a
        customer it has is kept (``remember``, in its own short transaction). Refusals: no such
        customer, merged (naming the survivor), erased → 422 naming ``field`` (in ``location``:
        the body, or the path); the customer service unreachable → 503 ``upstream-unavailable``
        with ``Retry-After`` (nothing kept)."""
        async with read_session(sessions) as session:
            found = await self.known(session, customer_id)
        if not found.unknown:
            return
        answer = await directory.read_customer(customer_id)
        if isinstance(answer, Unreachable):
            raise CustomerServiceUnavailable(answer.reason)
        if isinstance(answer, NoSuchCustomer):
            raise InvalidInput(field, "no such customer", location)
        if isinstance(answer, MergedAway):
            raise InvalidInput(field, f"the customer was merged into {answer.survivor_id}; use that id", location)
        if answer.erased:
            raise InvalidInput(field, "the customer was erased", location)
        async with unit_of_work(sessions) as session:
            await self.remember(session, answer)

    async def require(
        self,
        session: AsyncSession,
        customer_id: uuid.UUID,
        *,
        field: str = "customer_id",
        location: str = "body",
    ) -> Lookup[R]:
        """The customer a write names, which must be known here and live (not merged away, not
        erased), from the local copy only: this runs inside the write's transaction, which a
        remote call must not hold open. ``ensure`` has read an id not known yet through the
        customer service before the transaction began (and kept it), so an id still unknown here
        is none the customer service has: 422. Merged (naming the survivor) or erased → 422
        naming ``field``."""
        found = await self.known(session, customer_id)
        if found.unknown:
            raise InvalidInput(field, "no such customer", location)
        if found.merged:
            raise InvalidInput(field, f"the customer was merged into {found.survivor_id}; use that id", location)
        if found.erased:
            raise InvalidInput(field, "the customer was erased", location)
        return found


@dataclass(frozen=True, slots=True)
class ReadThrough:
    """``KnownCustomers.ensure`` bound to one request's service: a router calls it first, before
    anything opens the request's transaction (the idempotency claim included)."""

    known: KnownCustomers[Any]
    sessions: async_sessionmaker[AsyncSession]
    directory: CustomerDirectory

    async def __call__(self, customer_id: uuid.UUID, *, field: str = "customer_id", location: str = "body") -> None:
        await self.known.ensure(self.sessions, customer_id, self.directory, field=field, location=location)


def read_through(known: KnownCustomers[Any]) -> Callable[[Request], ReadThrough]:
    """A FastAPI dependency: ``known``'s ``ReadThrough`` for the request's app (its sessions and
    its ``app.state.customer_directory``)."""

    def dependency(request: Request) -> ReadThrough:
        return ReadThrough(known, request.app.state.runtime.sessions, request.app.state.customer_directory)

    return dependency
