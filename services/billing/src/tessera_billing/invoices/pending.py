"""deal.won facts parked until billing knows their customer (docs/domain.md §10.2).

Billing never invoices a customer it does not know: a deal.won naming a customer no
customer.created has announced here yet is kept as it came (one row per deal), and the
customer.created handler drains the customer's parked wins into invoices in its own transaction.
A deal.won for an id that never exists stays parked: no invoice, ever."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Column, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, col

from tessera_billing.models import Base
from tessera_shared.db import JSONType, UTCDateTime, table_of, upsert, utcnow
from tessera_shared.events.contracts import DealWon


class PendingDealWon(Base, table=True):
    __tablename__ = "pending_deal_wins"

    deal_id: uuid.UUID = Field(primary_key=True)
    customer_id: uuid.UUID = Field(nullable=False, index=True)
    # The deal.won's data as it came (validated again when drained).
    data: dict[str, Any] = Field(sa_column=Column(JSONType, nullable=False))
    parked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


async def park(session: AsyncSession, data: DealWon) -> None:
    """Keep the win until its customer is announced; a redelivery keeps the first."""
    stmt = upsert(session, table_of(PendingDealWon)).on_conflict_do_nothing(index_elements=["deal_id"])
    await session.execute(
        stmt,
        [
            {
                "deal_id": data.deal_id,
                "customer_id": data.customer_id,
                "data": data.model_dump(mode="json"),
                "parked_at": utcnow(),
            }
        ],
    )


async def take_parked(session: AsyncSession, customer_ids: list[uuid.UUID]) -> list[DealWon]:
    """The parked wins of these customers, removed from the park (oldest first)."""
    if not customer_ids:
        return []
    rows = (
        (
            await session.execute(
                select(PendingDealWon)
                .where(col(PendingDealWon.customer_id).in_(customer_ids))
                .order_by(col(PendingDealWon.parked_at), col(PendingDealWon.deal_id))
            )
        )
        .scalars()
        .all()
    )
    if not rows:
        return []
    await session.execute(delete(PendingDealWon).where(col(PendingDealWon.deal_id).in_([r.deal_id for r in rows])))
    return [DealWon.model_validate_json(orjson.dumps(r.data)) for r in rows]
