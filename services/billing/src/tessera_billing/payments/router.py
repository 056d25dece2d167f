from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response

from tessera_billing.api import ReadThroughDep, check_precision, today
from tessera_billing.invoices.repository import InvoiceRepository
from tessera_billing.known_customers.rule import require_customer
from tessera_billing.money import quantize
from tessera_billing.payments import rules
from tessera_billing.payments.models import Payment
from tessera_billing.payments.schemas import AllocationOut, PaymentCreate, PaymentOut
from tessera_billing.payments.service import (
    allocations_by_payment,
    find_payment,
    open_items,
    page_of_payments,
    plan_for_customer,
    plan_for_invoice,
    record_payment,
)
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.errors import InvalidInput, NotFound
from tessera_shared.http.etag import etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/v1/payments", tags=["payments"])

RECORDERS = (Role.BILLING_CLERK,)
READERS = (Role.BILLING_CLERK, Role.FINANCE_MANAGER, Role.SALES_MANAGER, Role.SERVICE)


async def payments_out(session: SessionDep, payments: list[Payment]) -> list[PaymentOut]:
    """Payments with their allocations, loaded in one query for the whole page."""
    by_payment = await allocations_by_payment(session, [p.id for p in payments])
    out = []
    for payment in payments:
        item = PaymentOut.model_validate(payment)
        item.allocations = [
            AllocationOut(invoice_id=a.invoice_id, amount=quantize(a.amount, payment.currency), applied_on=a.applied_on)
            for a in by_payment.get(payment.id, [])
        ]
        out.append(item)
    return out


async def payment_out(session: SessionDep, payment: Payment) -> PaymentOut:
    return (await payments_out(session, [payment]))[0]


@router.post("", status_code=201, response_model=PaymentOut, summary="Record a payment and allocate it")
async def create_payment(
    body: PaymentCreate,
    session: SessionDep,
    idem: IdempotencyDep,
    read_through: ReadThroughDep,
    principal: Annotated[Principal, require_roles(*RECORDERS)],
) -> Response:
    if body.invoice_id is None and body.customer_id is not None:
        await read_through(body.customer_id)  # before the transaction opens (§10.2)
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    check_precision(body.amount, body.currency, "amount")
    received_on = body.received_on or today()
    if received_on > today():
        raise InvalidInput("received_on", "a payment cannot be received in the future")
    if body.invoice_id is not None:
        if body.allocations:
            raise InvalidInput("allocations", "give allocations with customer_id, not with invoice_id")
        invoice = await InvoiceRepository(session).get(body.invoice_id, for_update=True)
        if invoice is None:
            raise InvalidInput("invoice_id", "no such invoice")
        if body.customer_id is not None and body.customer_id != invoice.customer_id:
            raise InvalidInput("customer_id", "the invoice belongs to another customer")
        if invoice.currency != body.currency:
            raise InvalidInput("currency", f"the invoice is in {invoice.currency}")
        plan = plan_for_invoice(invoice, body.amount)
        customer_id, invoices = invoice.customer_id, {invoice.id: invoice}
    elif body.customer_id is not None:
        customer_id = body.customer_id
        await require_customer(session, customer_id)
        candidates = await open_items(session, customer_id, body.currency)
        requested = [rules.Allocation(a.invoice_id, a.amount) for a in body.allocations or []]
        for n, alloc in enumerate(requested):
            check_precision(alloc.amount, body.currency, f"allocations.{n}.amount")
        plan, _ = plan_for_customer(candidates, body.amount, requested or None)
        invoices = {i.id: i for i in candidates}
    else:
        raise InvalidInput("invoice_id", "name the invoice_id or the customer_id the payment is from")
    payment, _ = await record_payment(
        session,
        customer_id=customer_id,
        amount=body.amount,
        currency=body.currency,
        received_on=received_on,
        method=body.method,
        reference=body.reference,
        plan=plan,
        invoices=invoices,
        recorded_by=principal.subject,
    )
    out = await payment_out(session, payment)
    return await idem.respond(
        201, out, headers={"Location": f"/v1/payments/{payment.id}", "ETag": etag_for(payment.id, 1)}
    )


@router.get("", response_model=Page[PaymentOut], summary="List payments (cursor pagination)")
async def list_payments(
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*READERS)],
    customer_id: uuid.UUID | None = None,
) -> Page[PaymentOut]:
    rows, next_cursor = await page_of_payments(session, page, customer_id=customer_id)
    return Page[PaymentOut](items=await payments_out(session, rows) if rows else [], next_cursor=next_cursor)


@router.get("/{payment_id}", response_model=PaymentOut, summary="One payment with its allocations")
async def get_payment(
    payment_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*READERS)],
) -> PaymentOut:
    payment = await find_payment(session, payment_id)
    if payment is None:
        raise NotFound("payment", payment_id)
    # Allocations change when credit is applied later, so the tag covers them too.
    out = await payment_out(session, payment)
    response.headers["ETag"] = etag_for(payment.id, f"{len(out.allocations)}.{out.unallocated}")
    return out
