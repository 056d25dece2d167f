"""A customer's service agreement (the SLA policy axis ``service_level``), for known customers only."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_service_desk.known_customers.handlers import KNOWN_CUSTOMERS
from tessera_service_desk.known_customers.models import KnownCustomer
from tessera_service_desk.sla.service import set_service_level


async def put_agreement(session: AsyncSession, customer_id: uuid.UUID, service_level: str) -> KnownCustomer:
    """Known customers only (docs/domain.md §10.2): an id the desk has not heard of is read through
    the customer service (and kept) before it gets an agreement; unknown there, merged or erased →
    422; unreachable → 503. No unnamed row is made for an id nobody has announced."""
    await KNOWN_CUSTOMERS.require(session, customer_id, location="path")
    return await set_service_level(session, customer_id, service_level)
