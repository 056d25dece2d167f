"""The parts of the customer summary: each reads as its own resource does (the same load, audit
entry, ETag and shape), from service functions, so that the summary router imports no other router."""

from __future__ import annotations

import uuid

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_customer.api import audit_read
from tessera_customer.contacts import service as contact_service
from tessera_customer.contacts.schemas import ContactOut
from tessera_customer.customers.repository import load_customer
from tessera_customer.customers.schemas import CustomerOut
from tessera_customer.loyalty.schemas import LoyaltyOut
from tessera_customer.loyalty.service import peek_account
from tessera_customer.privacy.schemas import ConsentsOut
from tessera_customer.privacy.service import consents_of
from tessera_customer.settings import CustomerSettings
from tessera_customer.timeline.schemas import TimelineEntryOut
from tessera_customer.timeline.service import page_of
from tessera_customer.value.schemas import ChurnRiskOut
from tessera_customer.value.service import churn_risk_of
from tessera_shared.auth import Principal
from tessera_shared.http.etag import etag_for
from tessera_shared.http.pagination import PageParams


async def profile(
    request: Request, customer_id: uuid.UUID, session: AsyncSession, response: Response, principal: Principal
) -> CustomerOut:
    customer = await load_customer(session, customer_id)
    audit_read(request, customer.id, principal, "read")
    response.headers["ETag"] = etag_for(customer.id, customer.version)
    return CustomerOut.of(customer)


async def contacts(
    request: Request, customer_id: uuid.UUID, session: AsyncSession, principal: Principal
) -> list[ContactOut]:
    await load_customer(session, customer_id)
    audit_read(request, customer_id, principal, "read_contacts")
    rows, _ = await contact_service.list_contacts(session, customer_id, PageParams(limit=50, cursor=None))
    return [ContactOut.model_validate(r) for r in rows]


async def timeline(
    customer_id: uuid.UUID, session: AsyncSession, limit: int, principal: Principal, kind: str | None
) -> list[TimelineEntryOut]:
    await load_customer(session, customer_id)
    rows, _ = await page_of(session, customer_id, principal, kind, PageParams(limit=limit, cursor=None))
    return [TimelineEntryOut.model_validate(r) for r in rows]


async def consents(customer_id: uuid.UUID, session: AsyncSession) -> ConsentsOut:
    await load_customer(session, customer_id)
    return ConsentsOut.of(customer_id, *await consents_of(session, customer_id))


async def churn_risk(
    customer_id: uuid.UUID, session: AsyncSession, settings: CustomerSettings, principal: Principal
) -> ChurnRiskOut:
    customer = await load_customer(session, customer_id)
    return await churn_risk_of(session, settings, principal, customer)


async def loyalty(customer_id: uuid.UUID, session: AsyncSession, settings: CustomerSettings) -> LoyaltyOut:
    await load_customer(session, customer_id)
    return LoyaltyOut.of(await peek_account(session, settings, customer_id), settings)
