"""Known customers only (docs/domain.md §10.2), as billing's writes apply it."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_billing.known_customers.handlers import KNOWN_CUSTOMERS
from tessera_shared.customer_directory import CustomerDirectory


async def require_customer(session: AsyncSession, customer_id: uuid.UUID, directory: CustomerDirectory) -> None:
    """An invoice or a payment names a customer billing knows, or one the customer service confirms
    (read through and kept); no such customer, merged or erased → 422 naming ``customer_id``; the
    customer service unreachable → 503 with ``Retry-After``."""
    await KNOWN_CUSTOMERS.require(session, customer_id, directory)
