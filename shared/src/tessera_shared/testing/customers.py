"""A customer directory for service tests that run one service without the customer service.

Most service tests name customers by fresh random ids; under "known customers only" (docs/domain.md
§10.2) each such id is read through the customer service. ``StubCustomers`` answers in its place:
by default every id is a live customer (``exists_by_default``); a test marks ids as missing or
merged, or the whole service as down, to see the refusals. The real HTTP adapter is tested
against the real customer service (sales' lead tests, tests/e2e).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_shared.customer_directory import (
    CustomerAnswer,
    CustomerFacts,
    MergedAway,
    NoSuchCustomer,
    Unreachable,
)


class StubCustomers:
    def __init__(self, *, exists_by_default: bool = True) -> None:
        self.exists_by_default = exists_by_default
        self.customers: dict[uuid.UUID, CustomerFacts] = {}
        self.missing: set[uuid.UUID] = set()
        self.merged: dict[uuid.UUID, uuid.UUID] = {}
        self.down = False
        self.reads: list[uuid.UUID] = []
        # Run while answering each read or create (a test's probe of what the caller holds meanwhile).
        self.while_answering: Callable[[uuid.UUID], Awaitable[None]] | None = None

    def add(self, customer_id: uuid.UUID, name: str = "Stub Customer", owner_id: str | None = None) -> CustomerFacts:
        facts = CustomerFacts(id=customer_id, name=name, owner_id=owner_id, status="prospect")
        self.customers[customer_id] = facts
        return facts

    async def read_customer(self, customer_id: uuid.UUID) -> CustomerAnswer:
        self.reads.append(customer_id)
        if self.while_answering is not None:
            await self.while_answering(customer_id)
        if self.down:
            return Unreachable("the stub customer service is down")
        if customer_id in self.merged:
            return MergedAway(customer_id, self.merged[customer_id])
        if customer_id in self.customers:
            return self.customers[customer_id]
        if customer_id in self.missing or not self.exists_by_default:
            return NoSuchCustomer(customer_id)
        # Nameless, like a row made before its customer.created: a test's own customer.created
        # still names it and sets its status (``KnownCustomers.remember`` keeps such a row early).
        return CustomerFacts(id=customer_id, name="", owner_id=None, status="")

    async def create_customer(self, payload: dict[str, Any], *, idempotency_key: str) -> CustomerFacts:
        if self.while_answering is not None:
            await self.while_answering(uuid.uuid5(uuid.NAMESPACE_URL, f"stub-customer:{idempotency_key}"))
        customer_id = uuid.uuid5(uuid.NAMESPACE_URL, f"stub-customer:{idempotency_key}")
        return self.add(customer_id, str(payload.get("name", "Stub Customer")), payload.get("owner_id"))


async def open_transactions(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    """The queries of the sessions of ``sessions``' PostgreSQL database that sit inside a transaction
    without running a statement (``idle in transaction``): what a remote call made inside a
    transaction leaves behind while it waits (docs/domain.md §10.2)."""
    async with sessions() as probe:
        rows = await probe.execute(
            text(
                "SELECT query FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
            )
        )
        found = [str(q) for (q,) in rows]
        await probe.rollback()
    return found
