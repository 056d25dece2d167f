"""``GET /v1/customers/{id}/summary``: the customer service's part of the 360 view in one read.

The gateway's 360 view would otherwise make seven calls here; each costs a request's fixed
overhead. The parts are the same service calls, audit entries and shapes the individual resources use.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from tessera_customer.api import READERS, SettingsDep
from tessera_customer.contacts.schemas import ContactOut
from tessera_customer.customers.repository import load_customer
from tessera_customer.customers.schemas import CustomerOut
from tessera_customer.loyalty.schemas import LoyaltyOut
from tessera_customer.privacy.schemas import ConsentsOut
from tessera_customer.summary import parts
from tessera_customer.timeline.schemas import TimelineEntryOut
from tessera_customer.value.schemas import ChurnRiskOut
from tessera_shared.auth import Principal, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.errors import Problem

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
    profile = await parts.profile(request, customer_id, session, response, principal)
    try:
        contact_items = await parts.contacts(request, customer_id, session, principal)
    except Problem as exc:
        if exc.status != 409:  # a person has no contacts
            raise
        contact_items = []
    timeline = await parts.timeline(customer_id, session, 20, principal, kind=None)
    surveys = await parts.timeline(customer_id, session, 1, principal, kind="survey.answered")
    csat = surveys[0].data.get("csat") if surveys else None
    return CustomerSummary(
        profile=profile,
        contacts=contact_items,
        consents=await parts.consents(customer_id, session),
        churn_risk=await parts.churn_risk(customer_id, session, settings, principal),
        loyalty=await parts.loyalty(customer_id, session, settings),
        timeline=timeline,
        last_csat=csat if isinstance(csat, int) else None,
    )
