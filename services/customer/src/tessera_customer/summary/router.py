"""``GET /v1/customers/{id}/summary``: the customer service's part of the 360 view in one read.

The gateway's 360 view would otherwise make seven calls here; each costs a request's fixed
overhead. The parts are the same functions the individual resources use.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from tessera_customer.common import SettingsDep, load_customer
from tessera_customer.contacts.router import list_contacts
from tessera_customer.contacts.schemas import ContactOut
from tessera_customer.customers.router import READERS, get_customer
from tessera_customer.customers.schemas import CustomerOut
from tessera_customer.loyalty.router import LoyaltyOut, get_loyalty
from tessera_customer.privacy.router import ConsentsOut, get_consents
from tessera_customer.timeline.router import TimelineEntryOut, get_timeline
from tessera_customer.value.router import ChurnRiskOut, get_churn_risk
from tessera_shared.auth import Principal, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.errors import Problem
from tessera_shared.http.pagination import PageParams

router = APIRouter(prefix="/v1/customers", tags=["customers"])


class CustomerSummary(BaseModel):
    profile: CustomerOut
    contacts: list[ContactOut]
    consents: ConsentsOut
    churn_risk: ChurnRiskOut
    loyalty: LoyaltyOut
    timeline: list[TimelineEntryOut]
    last_csat: int | None


@router.get(
    "/{customer_id}/summary",
    response_model=CustomerSummary,
    summary="Profile, contacts, consents, churn risk, loyalty and the latest timeline in one read",
)
async def get_customer_summary(
    request: Request,
    customer_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*READERS)],
) -> CustomerSummary:
    # Held for the whole read: the session's identity map is weak, and each part below loads the
    # customer again (a query each if the first copy had been collected).
    customer = await load_customer(session, customer_id)  # noqa: F841
    profile = await get_customer(request, customer_id, session, response, principal)
    try:
        contacts = (
            await list_contacts(request, customer_id, session, PageParams(limit=50, cursor=None), principal)
        ).items
    except Problem as exc:
        if exc.status != 409:  # a person has no contacts
            raise
        contacts = []
    timeline = await get_timeline(customer_id, session, PageParams(limit=20, cursor=None), principal, kind=None)
    surveys = await get_timeline(
        customer_id, session, PageParams(limit=1, cursor=None), principal, kind="survey.answered"
    )
    csat = surveys.items[0].data.get("csat") if surveys.items else None
    return CustomerSummary(
        profile=profile,
        contacts=contacts,
        consents=await get_consents(customer_id, session, principal),
        churn_risk=await get_churn_risk(customer_id, session, settings, principal),
        loyalty=await get_loyalty(customer_id, session, settings, Response(), principal),
        timeline=timeline.items,
        last_csat=csat if isinstance(csat, int) else None,
    )
