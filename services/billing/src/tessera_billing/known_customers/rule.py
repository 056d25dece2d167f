"""Known customers only (docs/domain.md §10.2), as billing's writes apply it."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_billing.known_customers.handlers import KNOWN_CUSTOMERS


async def require_customer(session: AsyncSession, customer_id: uuid.UUID) -> None:
    """An invoice or a payment names a customer billing knows, on the local copy: the router read an
    id billing had not seen through the customer service before this transaction (``ReadThroughDep``;
    unreachable → 503 with ``Retry-After``); no such customer, merged or erased → 422 naming
    ``customer_id``."""
    await KNOWN_CUSTOMERS.require(session, customer_id)
