"""Consent per purpose, data-subject export, and erasure (PII anonymised, business totals kept)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, StrictBool
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Mapped
from sqlmodel import col

from tessera_customer.common import audit_read, load_customer, refuse_if_erased
from tessera_customer.contacts.models import Contact
from tessera_customer.contacts.schemas import ContactOut
from tessera_customer.customers.models import AccessLog
from tessera_customer.customers.repository import CustomerRepository
from tessera_customer.customers.router import READERS, WRITERS
from tessera_customer.customers.rules import may_record_consent
from tessera_customer.customers.schemas import CustomerOut
from tessera_customer.lifecycle.models import StatusChange
from tessera_customer.loyalty.models import LoyaltyAccount, LoyaltyEntry
from tessera_customer.models import Base
from tessera_customer.privacy.models import Consent, ConsentRecord
from tessera_customer.timeline import service as timeline
from tessera_customer.timeline.models import TimelineEntry
from tessera_customer.value.models import CustomerSignals, PaymentFact, Purchase
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.events.contracts import CustomerErased
from tessera_shared.http.errors import Problem
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.inputs import Trim
from tessera_shared.outbox import publish

router = APIRouter(prefix="/v1/customers/{customer_id}", tags=["privacy"])

Purpose = Literal["marketing_email", "sms", "phone", "profiling"]
PRIVACY_OFFICERS = (Role.SERVICE,)  # admin always; the gateway's service client gathers exports


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: Purpose
    granted: StrictBool
    source: Annotated[str, Trim(min_length=2, max_length=100)]


class ConsentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    purpose: str
    granted: bool
    source: str
    recorded_at: datetime
    recorded_by: str


class ConsentsOut(BaseModel):
    customer_id: uuid.UUID
    current: list[ConsentOut]
    history: list[ConsentOut]


async def _consents(session: SessionDep, customer_id: uuid.UUID) -> ConsentsOut:
    current = (
        await session.scalars(
            select(Consent).where(col(Consent.customer_id) == customer_id).order_by(col(Consent.purpose))
        )
    ).all()
    history = (
        await session.scalars(
            select(ConsentRecord)
            .where(col(ConsentRecord.customer_id) == customer_id)
            .order_by(col(ConsentRecord.recorded_at).desc(), col(ConsentRecord.id).desc())
        )
    ).all()
    return ConsentsOut(
        customer_id=customer_id,
        current=[ConsentOut.model_validate(c) for c in current],
        history=[ConsentOut.model_validate(h) for h in history],
    )


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
        raise Problem(
            403, "a sales rep records consent given for their own customers only (a withdrawal anyone may record)"
        )
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    now = utcnow()
    session.add(
        ConsentRecord(
            customer_id=customer.id,
            purpose=body.purpose,
            granted=body.granted,
            source=body.source,
            recorded_at=now,
            recorded_by=principal.subject,
        )
    )
    current = await session.get(Consent, (customer.id, body.purpose))
    if current is None:
        session.add(
            Consent(
                customer_id=customer.id,
                purpose=body.purpose,
                granted=body.granted,
                source=body.source,
                recorded_at=now,
                recorded_by=principal.subject,
            )
        )
    else:
        current.granted, current.source, current.recorded_at, current.recorded_by = (
            body.granted,
            body.source,
            now,
            principal.subject,
        )
    timeline.record(
        session,
        customer.id,
        "consent.recorded",
        f"Consent for {body.purpose} {'given' if body.granted else 'withdrawn'} ({body.source})",
        occurred_at=now,
        data={"purpose": body.purpose, "granted": body.granted},
    )
    await session.flush()
    return await idem.respond(201, await _consents(session, customer.id))


def _rows(rows: Any) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in rows]


@router.get("/export", summary="Everything this service holds about the customer (data-subject access)")
async def export_customer(
    request: Request,
    customer_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, require_roles(*PRIVACY_OFFICERS)],
) -> dict[str, Any]:
    customer = await load_customer(session, customer_id)
    audit_read(request, customer.id, principal, "export")

    async def all_of(model: type[Base], column: Mapped[uuid.UUID]) -> list[dict[str, Any]]:
        return _rows((await session.scalars(select(model).where(column == customer.id))).all())

    return {
        "customer": CustomerOut.of(customer).model_dump(mode="json"),
        "contacts": [
            ContactOut.model_validate(c).model_dump(mode="json")
            for c in (await session.scalars(select(Contact).where(col(Contact.customer_id) == customer.id))).all()
        ],
        "consents": (await _consents(session, customer.id)).model_dump(mode="json"),
        "status_history": await all_of(StatusChange, col(StatusChange.customer_id)),
        "timeline": await all_of(TimelineEntry, col(TimelineEntry.customer_id)),
        "purchases": await all_of(Purchase, col(Purchase.customer_id)),
        "payments": await all_of(PaymentFact, col(PaymentFact.customer_id)),
        "signals": await all_of(CustomerSignals, col(CustomerSignals.customer_id)),
        "loyalty_account": await all_of(LoyaltyAccount, col(LoyaltyAccount.customer_id)),
        "loyalty_entries": await all_of(LoyaltyEntry, col(LoyaltyEntry.customer_id)),
        "access_log": await all_of(AccessLog, col(AccessLog.customer_id)),
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
    now = utcnow()
    for column in (
        "email",
        "phone",
        "external_id",
        "gender",
        "age_band",
        "occupation",
        "education",
        "region",
        "city",
        "climate_zone",
        "lifestyle",
        "social_status",
    ):
        setattr(customer, column, None)
    customer.name, customer.name_key = "erased customer", ""
    customer.tags, customer.channels, customer.custom_attributes, customer.preferences = [], [], {}, []
    customer.erased_at, customer.updated_at = now, now
    customer.version += 1
    await CustomerRepository(session).set_tags(customer.id, [])
    await session.execute(delete(Contact).where(col(Contact.customer_id) == customer.id))
    # Timeline lines may quote subjects, comments and names: keep the kind and time, drop the text.
    await session.execute(
        update(TimelineEntry)
        .where(col(TimelineEntry.customer_id) == customer.id)
        .values(summary=col(TimelineEntry.kind), data={})
    )
    await session.execute(update(StatusChange).where(col(StatusChange.customer_id) == customer.id).values(note=None))
    await session.flush()
    await publish(
        session,
        CustomerErased(customer_id=customer.id, requested_by=principal.subject, erased_at=now),
        subject=customer.id,
    )
    timeline.record(
        session,
        customer.id,
        "customer.erased",
        "Personal data erased",
        occurred_at=now,
        data={"requested_by": principal.subject, "reason": body.reason},
    )
    return CustomerOut.of(customer)
