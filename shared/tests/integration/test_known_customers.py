"""The shared local customer copy: its handlers and its lookup, on PostgreSQL and SQLite."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from sqlalchemy import Column, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import registry
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, SQLModel, col

from tessera_shared.db import create_engine, new_metadata, session_factory, table_of, unit_of_work
from tessera_shared.events import CloudEvent, build_event
from tessera_shared.events.contracts import (
    CustomerCreated,
    CustomerErased,
    CustomerMerged,
    CustomerTierChanged,
    CustomerUpdated,
)
from tessera_shared.events.envelope import EventData
from tessera_shared.infra_tables import metadata as infra_metadata
from tessera_shared.infra_tables import outbox
from tessera_shared.known_customers import (
    ERASED,
    MAX_HOPS,
    UNNAMED,
    KnownCustomerFields,
    KnownCustomers,
    Repoint,
    Scrub,
)
from tessera_shared.outbox import publish
from tessera_shared.testing.databases import DatabaseFactory

# Upserts and updates in both dialects: these run on both databases.
pytestmark = pytest.mark.sqlite

T0 = datetime(2026, 3, 1, tzinfo=UTC)


class Base(SQLModel, registry=registry(metadata=new_metadata())):
    """A service's table base, as each service has its own."""


class Known(Base, KnownCustomerFields, table=True):
    """A service's copy, with a column of its own beside the shared ones."""

    service_level: str = Field(default="standard", sa_column_kwargs={"server_default": "standard"})


class Order(Base, table=True):
    __tablename__ = "orders"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: uuid.UUID
    note: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    printed_name: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))


class OrderLine(Base, table=True):
    """Names its customer only through its order."""

    __tablename__ = "order_lines"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int
    text: str = Field(sa_column=Column(String(200), nullable=False))


hooked: list[str] = []


async def merge_hook(session: AsyncSession, data: CustomerMerged) -> None:
    hooked.append(f"merged {data.merged_id}")


async def erase_hook(session: AsyncSession, data: CustomerErased) -> None:
    hooked.append(f"erased {data.customer_id}")


def lines_of(customer_id: uuid.UUID) -> ColumnElement[bool]:
    orders = select(col(Order.id)).where(col(Order.customer_id) == customer_id).scalar_subquery()
    return col(OrderLine.order_id).in_(orders)


COPY = KnownCustomers(
    Known,
    repoint=[Repoint(Order)],
    scrubs=[
        Scrub(Order, {"note": ERASED}),
        Scrub(Order, {"printed_name": None}, only=(col(Order.printed_name).is_not(None),)),
        Scrub(OrderLine, {"text": ERASED}, rows_of=lines_of),
    ],
    on_merged=[merge_hook],
    on_erased=[erase_hook],
)
on_created = COPY.created()


@pytest.fixture
async def sessions(databases: DatabaseFactory, backend: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = await databases.empty(backend)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        await conn.run_sync(infra_metadata.create_all)  # every service has its outbox
    hooked.clear()
    yield session_factory(engine)
    await engine.dispose()


def created(cid: uuid.UUID, name: str = "Acme", owner: str | None = "rep1") -> CustomerCreated:
    return CustomerCreated(
        customer_id=cid, kind="organization", name=name, owner_id=owner, status="prospect", created_at=T0
    )


def updated(cid: uuid.UUID, name: str, version: int, owner: str | None = "rep2") -> CustomerUpdated:
    return CustomerUpdated(
        customer_id=cid, changed_fields=["name"], name=name, owner_id=owner, version=version, updated_at=T0
    )


def tier(cid: uuid.UUID, to: str, at: datetime) -> CustomerTierChanged:
    return CustomerTierChanged(
        customer_id=cid,
        from_tier=None,
        to_tier=to,
        lifetime_value=Decimal("10"),
        currency="EUR",
        changed_at=at,
    )


def merged(merged_id: uuid.UUID, survivor: uuid.UUID) -> CustomerMerged:
    return CustomerMerged(survivor_id=survivor, merged_id=merged_id, actor="admin", merged_at=T0)


async def deliver(sessions: async_sessionmaker[AsyncSession], *facts: EventData) -> None:
    """Each fact in a transaction of its own, through the handler a service registers for it."""
    for data in facts:
        event = build_event(data, subject=uuid.uuid4())
        async with unit_of_work(sessions) as s:
            if isinstance(data, CustomerCreated):
                await on_created(s, event, data)
            elif isinstance(data, CustomerUpdated):
                await COPY.updated()(s, event, data)
            elif isinstance(data, CustomerMerged):
                await COPY.merged(s, event, data)
            elif isinstance(data, CustomerErased):
                await COPY.erased(s, event, data)
            elif isinstance(data, CustomerTierChanged):
                await COPY.tier_changed()(s, event, data)


async def row(sessions: async_sessionmaker[AsyncSession], cid: uuid.UUID) -> Known:
    async with sessions() as s:
        found = await s.get(Known, cid)
    assert found is not None
    return found


def test_one_set_of_columns() -> None:
    assert [c.name for c in table_of(Known).columns] == [
        "customer_id",
        "name",
        "owner_id",
        "status",
        "tier",
        "tier_changed_at",
        "merged_into",
        "erased_at",
        "version",
        "updated_at",
        "service_level",
    ]
    assert Known.__tablename__ == "known_customers"
    assert {i.name for i in table_of(Known).indexes} == {"ix_known_customers_owner_id"}


class TestCreated:
    async def test_a_run_makes_rows_and_a_repeat_in_the_run_does_not_win(self, sessions) -> None:
        a, b = uuid.uuid4(), uuid.uuid4()
        facts = [created(a, "First"), created(b, "Bee", owner=None), created(a, "Second")]
        async with unit_of_work(sessions) as s:
            await on_created.many(s, [(build_event(d, subject=d.customer_id), d) for d in facts])
        first = await row(sessions, a)
        assert (first.name, first.owner_id, first.status, first.tier, first.version) == (
            "First",
            "rep1",
            "prospect",
            "ordinary",
            1,
        )
        assert first.updated_at.tzinfo is not None
        assert ((await row(sessions, b)).name, (await row(sessions, b)).service_level) == ("Bee", "standard")

    async def test_a_second_creation_does_not_rename(self, sessions) -> None:
        cid = uuid.uuid4()
        await deliver(sessions, created(cid, "Acme"), created(cid, "Other", owner="rep9"))
        again = await row(sessions, cid)
        assert (again.name, again.owner_id) == ("Acme", "rep1")

    async def test_a_row_made_early_learns_name_owner_and_status_and_keeps_its_tier(self, sessions) -> None:
        cid = uuid.uuid4()
        await deliver(sessions, tier(cid, "key", T0))
        early = await row(sessions, cid)
        assert (early.name, early.owner_id, early.status, early.tier) == (UNNAMED, None, None, "key")
        await deliver(sessions, created(cid, "Acme"))
        named = await row(sessions, cid)
        assert (named.name, named.owner_id, named.status, named.tier, named.tier_changed_at) == (
            "Acme",
            "rep1",
            "prospect",
            "key",
            T0,
        )

    async def test_a_late_creation_keeps_what_an_update_wrote_and_learns_the_status(self, sessions) -> None:
        cid = uuid.uuid4()
        await deliver(sessions, updated(cid, "Acme AG", 3), created(cid, "Acme", owner="rep1"))
        got = await row(sessions, cid)
        assert (got.name, got.owner_id, got.version, got.status) == ("Acme AG", "rep2", 3, "prospect")

    async def test_an_erased_row_is_not_named_again(self, sessions) -> None:
        cid = uuid.uuid4()
        await deliver(sessions, CustomerErased(customer_id=cid, requested_by="dpo", erased_at=T0), created(cid))
        assert (await row(sessions, cid)).name == ERASED

    async def test_further_work_runs_on_the_same_run(self, sessions) -> None:
        seen: list[uuid.UUID] = []

        async def also(session: AsyncSession, events: list[tuple[CloudEvent, CustomerCreated]]) -> None:
            seen.extend(data.customer_id for _, data in events)

        handler = COPY.created(also)
        cid = uuid.uuid4()
        async with unit_of_work(sessions) as s:
            await handler(s, build_event(created(cid), subject=cid), created(cid))
        assert seen == [cid]
        assert (await row(sessions, cid)).name == "Acme"


class TestUpdated:
    async def test_newer_versions_win_and_older_ones_lose(self, sessions) -> None:
        cid = uuid.uuid4()
        await deliver(sessions, created(cid), updated(cid, "v3", 3), updated(cid, "v2", 2, owner="late"))
        got = await row(sessions, cid)
        assert (got.name, got.owner_id, got.version) == ("v3", "rep2", 3)

    async def test_an_update_before_the_creation_makes_the_row(self, sessions) -> None:
        cid = uuid.uuid4()
        await deliver(sessions, updated(cid, "Early", 2))
        got = await row(sessions, cid)
        assert (got.name, got.owner_id, got.version, got.status, got.updated_at) == ("Early", "rep2", 2, None, T0)

    async def test_an_erased_row_ignores_updates(self, sessions) -> None:
        cid = uuid.uuid4()
        await deliver(
            sessions,
            created(cid),
            CustomerErased(customer_id=cid, requested_by="dpo", erased_at=T0),
            updated(cid, "X", 9),
        )
        got = await row(sessions, cid)
        assert (got.name, got.version) == (ERASED, 1)

    async def test_a_run_takes_each_customers_newest_version_and_tells_what_moved(self, sessions) -> None:
        moving, newer_known, erased, fresh = (uuid.uuid4() for _ in range(4))
        await deliver(
            sessions,
            created(moving),
            created(newer_known),
            updated(newer_known, "Known v5", 5),
            created(erased),
            CustomerErased(customer_id=erased, requested_by="dpo", erased_at=T0),
        )
        told: list[dict[uuid.UUID, int]] = []

        async def also(session: AsyncSession, moved: dict[uuid.UUID, CustomerUpdated]) -> None:
            told.append({cid: data.version for cid, data in moved.items()})

        run = [
            updated(moving, "Moving v3", 3),
            updated(newer_known, "Known v4", 4),  # older than what the row has
            updated(erased, "Back", 7),
            updated(fresh, "Fresh v2", 2, owner=None),
            updated(moving, "Moving v2", 2, owner="late"),  # older within the run
        ]
        async with unit_of_work(sessions) as s:
            await COPY.updated(also).many(s, [(build_event(d, subject=d.customer_id), d) for d in run])
        assert told == [{moving: 3, fresh: 2}]
        got = await row(sessions, moving)
        assert (got.name, got.owner_id, got.version, got.status) == ("Moving v3", "rep2", 3, "prospect")
        assert ((await row(sessions, newer_known)).name, (await row(sessions, newer_known)).version) == ("Known v5", 5)
        assert (await row(sessions, erased)).name == ERASED
        made = await row(sessions, fresh)
        assert (made.name, made.owner_id, made.version, made.tier, made.status) == (
            "Fresh v2",
            None,
            2,
            "ordinary",
            None,
        )


class TestMerged:
    async def test_records_move_to_the_survivor_and_the_id_becomes_an_alias(self, sessions) -> None:
        survivor, old, unrelated = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        async with unit_of_work(sessions) as s:
            s.add_all([Order(customer_id=old, note="a"), Order(customer_id=old), Order(customer_id=unrelated)])
        await deliver(sessions, created(survivor, "Keep"), created(old, "Gone"), merged(old, survivor))
        await deliver(sessions, merged(old, survivor))  # a second delivery moves nothing more
        async with sessions() as s:
            owners = sorted(str(c) for c in (await s.execute(select(col(Order.customer_id)))).scalars())
        assert owners == sorted([str(survivor), str(survivor), str(unrelated)])
        alias = await row(sessions, old)
        assert (alias.merged_into, alias.name, alias.updated_at) == (survivor, "Gone", T0)
        assert (await row(sessions, survivor)).merged_into is None
        assert hooked == [f"merged {old}", f"merged {old}"]

    async def test_an_unknown_merged_id_is_kept_as_an_alias_and_named_later(self, sessions) -> None:
        survivor, old = uuid.uuid4(), uuid.uuid4()
        await deliver(sessions, merged(old, survivor))
        alias = await row(sessions, old)
        assert (alias.name, alias.merged_into, alias.status) == (UNNAMED, survivor, None)
        await deliver(sessions, created(old, "Late"))
        named = await row(sessions, old)
        assert (named.name, named.merged_into, named.status) == ("Late", survivor, "prospect")

    async def test_a_merge_into_itself_does_nothing(self, sessions) -> None:
        cid = uuid.uuid4()
        await deliver(sessions, created(cid), merged(cid, cid))
        assert (await row(sessions, cid)).merged_into is None
        assert hooked == []

    async def test_aliases_of_a_merged_id_point_on_to_the_survivor(self, sessions) -> None:
        a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        await deliver(sessions, merged(a, b), merged(b, c))
        assert ((await row(sessions, a)).merged_into, (await row(sessions, b)).merged_into) == (c, c)


class TestErased:
    async def test_scrubs_and_hooks_run_and_the_row_is_named_erased(self, sessions) -> None:
        cid, other = uuid.uuid4(), uuid.uuid4()
        async with unit_of_work(sessions) as s:
            mine, theirs = (
                Order(customer_id=cid, note="private", printed_name="Jane"),
                Order(customer_id=other, note="x"),
            )
            s.add_all([mine, theirs])
            await s.flush()
            assert mine.id is not None and theirs.id is not None
            s.add_all([OrderLine(order_id=mine.id, text="for Jane"), OrderLine(order_id=theirs.id, text="kept")])
        await deliver(sessions, created(cid, "Jane Roe"))
        await deliver(sessions, CustomerErased(customer_id=cid, requested_by="dpo", erased_at=T0))
        async with sessions() as s:
            orders = {o.customer_id: (o.note, o.printed_name) for o in (await s.execute(select(Order))).scalars()}
            lines = sorted((await s.execute(select(col(OrderLine.text)))).scalars())
        assert orders == {cid: (ERASED, None), other: ("x", None)}
        assert lines == [ERASED, "kept"]
        gone = await row(sessions, cid)
        assert (gone.name, gone.erased_at, gone.updated_at, gone.owner_id) == (ERASED, T0, T0, "rep1")
        assert hooked == [f"erased {cid}"]

    async def test_the_sent_outbox_rows_keyed_by_the_customer_go(self, sessions) -> None:
        cid, other = uuid.uuid4(), uuid.uuid4()
        async with unit_of_work(sessions) as s:
            for subject in (cid, other):
                await publish(s, created(subject, "Jane Roe"), subject=subject)
            await s.execute(update(outbox).values(sent_at=T0))
            await publish(s, created(cid, "Jane Roe again"), subject=cid)  # not sent yet: stays
        await deliver(sessions, CustomerErased(customer_id=cid, requested_by="dpo", erased_at=T0))
        async with sessions() as s:
            left = sorted(
                (k, sent is not None) for k, sent in (await s.execute(select(outbox.c.key, outbox.c.sent_at)))
            )
        assert left == sorted([(str(cid), False), (str(other), True)])

    async def test_an_unknown_erased_id_is_kept_as_erased(self, sessions) -> None:
        cid = uuid.uuid4()
        await deliver(sessions, CustomerErased(customer_id=cid, requested_by="dpo", erased_at=T0))
        gone = await row(sessions, cid)
        assert (gone.name, gone.erased_at) == (ERASED, T0)


class TestTiers:
    async def test_the_newest_tier_per_customer_wins_and_the_hook_sees_what_changed(self, sessions) -> None:
        moving, newer_known, fresh = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        await deliver(sessions, created(moving), tier(newer_known, "key", T0 + timedelta(days=3)))
        told: list[dict[uuid.UUID, str]] = []

        async def then(session: AsyncSession, changed: dict[uuid.UUID, CustomerTierChanged]) -> None:
            told.append({cid: data.to_tier for cid, data in changed.items()})

        handler = COPY.tier_changed(then)
        run = [
            tier(moving, "key", T0 + timedelta(days=2)),
            tier(newer_known, "small", T0 + timedelta(days=2)),  # older than what it has
            tier(fresh, "small", T0),
            tier(moving, "small", T0 + timedelta(days=1)),  # older within the run
        ]
        async with unit_of_work(sessions) as s:
            await handler.many(s, [(build_event(d, subject=d.customer_id), d) for d in run])
        assert told == [{moving: "key", fresh: "small"}]
        got = await row(sessions, moving)
        assert (got.name, got.tier, got.tier_changed_at) == ("Acme", "key", T0 + timedelta(days=2))
        assert (await row(sessions, newer_known)).tier == "key"
        made = await row(sessions, fresh)
        assert (made.name, made.tier) == (UNNAMED, "small")

    async def test_nothing_changed_calls_no_hook(self, sessions) -> None:
        cid = uuid.uuid4()
        await deliver(sessions, tier(cid, "key", T0 + timedelta(days=1)))
        calls: list[int] = []

        async def then(session: AsyncSession, changed: dict[uuid.UUID, CustomerTierChanged]) -> None:
            calls.append(len(changed))

        async with unit_of_work(sessions) as s:
            d = tier(cid, "small", T0)
            await COPY.tier_changed(then)(s, build_event(d, subject=cid), d)
        assert calls == []
        assert (await row(sessions, cid)).tier == "key"


class TestLookup:
    async def test_unknown_known_erased_and_merged_are_told_apart(self, sessions) -> None:
        plain, erased, survivor, old, nowhere = (uuid.uuid4() for _ in range(5))
        await deliver(
            sessions,
            created(plain),
            created(erased),
            CustomerErased(customer_id=erased, requested_by="dpo", erased_at=T0),
            created(survivor, "Survivor"),
            merged(old, survivor),
        )
        async with sessions() as s:
            unknown = await COPY.known(s, nowhere)
            known = await COPY.known(s, plain)
            gone = await COPY.known(s, erased)
            alias = await COPY.known(s, old)
        assert (unknown.unknown, unknown.usable, unknown.row, unknown.current, unknown.survivor_id) == (
            True,
            False,
            None,
            None,
            None,
        )
        assert (known.unknown, known.merged, known.erased, known.usable, known.survivor_id) == (
            False,
            False,
            False,
            True,
            None,
        )
        assert known.current is known.row
        assert (gone.erased, gone.merged, gone.usable) == (True, False, False)
        assert (alias.merged, alias.erased, alias.usable, alias.survivor_id) == (True, False, False, survivor)
        assert alias.current is not None and alias.current.name == "Survivor"

    async def test_a_survivor_not_known_yet_is_still_named(self, sessions) -> None:
        survivor, old = uuid.uuid4(), uuid.uuid4()
        await deliver(sessions, merged(old, survivor))
        async with sessions() as s:
            alias = await COPY.known(s, old)
        assert (alias.merged, alias.survivor_id, alias.current) == (True, survivor, None)

    async def test_a_chain_is_followed_and_a_loop_or_a_long_chain_ends(self, sessions) -> None:
        ids = [uuid.uuid4() for _ in range(MAX_HOPS + 3)]
        loop_a, loop_b = uuid.uuid4(), uuid.uuid4()
        async with unit_of_work(sessions) as s:  # as no merge would leave them: written directly
            s.add_all(Known(customer_id=a, merged_into=b) for a, b in pairwise(ids))
            s.add(Known(customer_id=ids[-1], name="End"))
            s.add_all([Known(customer_id=loop_a, merged_into=loop_b), Known(customer_id=loop_b, merged_into=loop_a)])
        async with sessions() as s:
            short = await COPY.known(s, ids[-3])
            long = await COPY.known(s, ids[0])
            loop = await COPY.known(s, loop_a)
        assert short.survivor_id == ids[-1] and short.current is not None and short.current.name == "End"
        assert long.survivor_id == ids[MAX_HOPS]  # gave up after MAX_HOPS hops
        assert loop.survivor_id == loop_b and loop.merged


async def test_the_copy_is_mapped_on_the_service_base_only(sessions) -> None:
    assert table_of(Known).metadata is Base.metadata
    assert "known_customers" not in SQLModel.metadata.tables
