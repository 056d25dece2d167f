"""Consent per purpose, data-subject export, and erasure (PII anonymised, business totals kept)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict

from tessera_customer.api import READERS, WRITERS, audit_read
from tessera_customer.contacts.schemas import ContactOut
from tessera_customer.customers.repository import load_customer
from tessera_customer.customers.rules import may_record_consent
from tessera_customer.customers.schemas import CustomerOut
from tessera_customer.customers.service import refuse_if_erased
from tessera_customer.privacy import service
from tessera_customer.privacy.schemas import ConsentIn, ConsentsOut
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.errors import Forbidden
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.inputs import Trim

router = APIRouter(prefix="/v1/customers/{customer_id}", tags=["privacy"])

PRIVACY_OFFICERS = (Role.SERVICE,)  # admin always; the gateway's service client gathers exports


async def _consents(session: SessionDep, customer_id: uuid.UUID) -> ConsentsOut:
    return ConsentsOut.of(customer_id, *await service.consents_of(session, customer_id))


@router.get("/consents", response_model=ConsentsOut, summary="Consent per purpose, with its history")
async def get_consents(
    customer_id: uuid.UUID,
    session: SessionDep,
    _: Annotated[Principal, require_roles(*READERS)],
) -> ConsentsOut:
    await load_customer(session, customer_id)
    return await _consents(session, customer_id)


@router.post("/consents", response_model=ConsentsOut, status_code=201, summary="Record consent given or withdrawn")
async def record_consent(
    customer_id: uuid.UUID,
    body: ConsentIn,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*WRITERS)],
) -> Response:
    customer = await load_customer(session, customer_id)
    refuse_if_erased(customer)
    if not may_record_consent(principal, customer.owner_id, body.granted):
        raise Forbidden(
            "a sales rep records consent given for their own customers only (a withdrawal anyone may record)"
        )
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    await service.record_consent(
        session,
        customer,
        purpose=body.purpose,
        granted=body.granted,
        source=body.source,
        actor=principal.subject,
    )
    return await idem.respond(201, await _consents(session, customer.id))


@router.get("/export", summary="Everything this service holds about the customer (data-subject access)")
async def export_customer(
    request: Request,
    customer_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, require_roles(*PRIVACY_OFFICERS)],
) -> dict[str, Any]:
    customer = await load_customer(session, customer_id)
    audit_read(request, customer.id, principal, "export")
    contacts = await service.contacts_of(session, customer.id)
    consents = await _consents(session, customer.id)
    records = await service.export_records(session, customer.id)
    return {
        "customer": CustomerOut.of(customer).model_dump(mode="json"),
        "contacts": [ContactOut.model_validate(c).model_dump(mode="json") for c in contacts],
        "consents": consents.model_dump(mode="json"),
        **records,
        "exported_at": utcnow().isoformat(),
    }


class EraseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Trim(min_length=3, max_length=300)]


@router.post("/erase", response_model=CustomerOut, summary="Erase personal data (anonymise; keep business totals)")
async def erase_customer(
    customer_id: uuid.UUID,
    body: EraseIn,
    session: SessionDep,
    principal: Annotated[Principal, require_roles()],
) -> CustomerOut:
    customer = await load_customer(session, customer_id, for_update=True)
    refuse_if_erased(customer)
    await service.erase(session, customer, actor=principal.subject, reason=body.reason)
    return CustomerOut.of(customer)
