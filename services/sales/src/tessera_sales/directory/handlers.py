"""The local copy of customers, kept from the customer service's facts."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_sales.activities.models import Activity
from tessera_sales.credit.models import CollectedPayment, OverdueInvoice
from tessera_sales.deals.models import Deal
from tessera_sales.directory.models import KnownCustomer
from tessera_sales.leads.models import Lead
from tessera_shared.consumer import Batched
from tessera_shared.db import upsert, utcnow
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import CustomerCreated, CustomerErased, CustomerMerged, CustomerUpdated

ERASED = "[erased]"


async def _customers_created(session: AsyncSession, events: list[tuple[CloudEvent, CustomerCreated]]) -> None:
    # One statement for the run: a customer already known (an update arrived first) keeps what it has.
    now = utcnow()
    rows = [
        {
            "customer_id": data.customer_id,
            "name": data.name,
            "owner_id": data.owner_id,
            "status": data.status,
            "updated_at": now,
        }
        for _, data in events
    ]
    stmt = upsert(session, KnownCustomer.__table__).on_conflict_do_nothing(index_elements=["customer_id"])
    await session.execute(stmt, rows)


on_customer_created = Batched(_customers_created)


async def on_customer_updated(session: AsyncSession, event: CloudEvent, data: CustomerUpdated) -> None:
    known = await session.get(KnownCustomer, data.customer_id)
    if known is None:
        session.add(
            KnownCustomer(
                customer_id=data.customer_id,
                name=data.name,
                owner_id=data.owner_id,
                status="prospect",
                version=data.version,
                updated_at=data.updated_at,
            )
        )
    elif data.version > known.version and known.erased_at is None:
        known.name, known.owner_id, known.version, known.updated_at = (
            data.name,
            data.owner_id,
            data.version,
            data.updated_at,
        )


async def on_customer_merged(session: AsyncSession, event: CloudEvent, data: CustomerMerged) -> None:
    """Everything the merged customer had now belongs to the survivor; re-running changes nothing."""
    old, new = data.merged_id, data.survivor_id
    for model in (Deal, Lead, Activity, OverdueInvoice, CollectedPayment):
        await session.execute(update(model).where(col(model.customer_id) == old).values(customer_id=new))
    known = await session.get(KnownCustomer, old)
    if known is None:
        session.add(KnownCustomer(customer_id=old, name=ERASED, status="merged", merged_into_id=new))
    else:
        known.merged_into_id, known.status, known.updated_at = new, "merged", utcnow()


async def on_customer_erased(session: AsyncSession, event: CloudEvent, data: CustomerErased) -> None:
    """Personal data goes; business facts (amounts, stages, dates) stay for the totals."""
    cid = data.customer_id
    await session.execute(
        update(Lead)
        .where(col(Lead.customer_id) == cid)
        .values(name=ERASED, company=None, title=None, email=None, phone=None, score_reasons=[])
    )
    await session.execute(update(Activity).where(col(Activity.customer_id) == cid).values(subject=ERASED, notes=None))
    known = await session.get(KnownCustomer, cid)
    if known is None:
        session.add(KnownCustomer(customer_id=cid, name=ERASED, status="erased", erased_at=data.erased_at))
    else:
        known.name, known.erased_at = ERASED, data.erased_at
