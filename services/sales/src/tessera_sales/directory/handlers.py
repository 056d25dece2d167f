from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_sales.directory.models import KnownCustomer
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import CustomerCreated


async def on_customer_created(session: AsyncSession, event: CloudEvent, data: CustomerCreated) -> None:
    if await session.get(KnownCustomer, data.customer_id) is None:
        session.add(KnownCustomer(customer_id=data.customer_id, name=data.name, owner_id=data.owner_id,
                                  status=data.status))
