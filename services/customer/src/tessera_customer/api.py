"""Request helpers every feature of the customer service shares."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped

from tessera_customer.customers.models import AccessLog, Customer
from tessera_customer.settings import CustomerSettings
from tessera_shared.auth import Principal, Role
from tessera_shared.db import new_id, utcnow
from tessera_shared.http.errors import Problem
from tessera_shared.http.pagination import PageParams, paginate

# Who may work with customer records: named here, not in a router, because every feature's
# router applies the same rules and no router imports another.
WRITERS = (Role.SALES_MANAGER, Role.SALES_REP, Role.SUPPORT_AGENT, Role.SERVICE)
READERS = (*WRITERS, Role.BILLING_CLERK, Role.FINANCE_MANAGER)
EDITORS = (Role.SALES_MANAGER, Role.SALES_REP, Role.SERVICE)


def _settings(request: Request) -> CustomerSettings:
    return request.app.state.settings


SettingsDep = Annotated[CustomerSettings, Depends(_settings)]


async def load_customer(session: AsyncSession, customer_id: uuid.UUID, *, for_update: bool = False) -> Customer:
    """The live customer or a 404 problem (a merged one points at its survivor)."""
    # None, not False: any with_for_update value but None bypasses the identity map (a query
    # per call; a summary read loaded the same customer seven times).
    customer = await session.get(Customer, customer_id, with_for_update=True if for_update else None)
    if customer is None:
        raise Problem(404, f"customer {customer_id} not found")
    if customer.merged_into_id is not None:
        raise Problem(
            404,
            f"customer {customer_id} was merged into {customer.merged_into_id}",
            merged_into=str(customer.merged_into_id),
        )
    return customer


def refuse_if_erased(customer: Customer) -> None:
    if customer.erased_at is not None:
        raise Problem(
            409, f"customer {customer.id} was erased; its record can no longer change", slug="customer-erased"
        )


def audit_read(request: Request, customer_id: uuid.UUID, principal: Principal, action: str) -> None:
    """Record a read of personal data (written behind the request, in batches)."""
    request.app.state.runtime.rows.add(
        AccessLog.__table__,
        {"id": new_id(), "customer_id": customer_id, "principal": principal.subject, "action": action, "at": utcnow()},
    )


async def paginate_desc(
    session: AsyncSession,
    stmt: Select[Any],
    params: PageParams,
    order: tuple[Mapped[Any], ...],
) -> tuple[list[Any], str | None]:
    """Keyset pagination newest/largest first."""
    return await paginate(session, stmt, params, order, descending=True)
