from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response

from tessera_billing.api import INVOICE_READERS, ReadThroughDep, SettingsDep, today
from tessera_billing.invoices.models import Invoice, InvoiceLine
from tessera_billing.invoices.repository import InvoiceRepository
from tessera_billing.invoices.rules import InvoiceStatus
from tessera_billing.invoices.schemas import InvoiceCreate, InvoiceDetail, InvoiceIssue, InvoiceOut, LineOut
from tessera_billing.invoices.service import LineSpec, create_invoice, issue_invoice, settle_from_credit, void_invoice
from tessera_billing.known_customers.rule import require_customer
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.errors import NotFound
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/v1/invoices", tags=["invoices"])

READERS = INVOICE_READERS
# Issuing is the clerk's duty; approving write-offs and changing limits belong to finance.
ISSUERS = (Role.BILLING_CLERK,)
VOIDERS = (Role.BILLING_CLERK, Role.FINANCE_MANAGER)


def detail(invoice: Invoice, lines: list[InvoiceLine]) -> InvoiceDetail:
    out = InvoiceOut.model_validate(invoice).model_dump()
    return InvoiceDetail(
        **out,
        lines=[
            LineOut(currency=invoice.currency, **{f: getattr(line, f) for f in LineOut.model_fields if f != "currency"})
            for line in lines
        ],
    )


async def load(session: SessionDep, invoice_id: uuid.UUID, *, for_update: bool = False) -> Invoice:
    invoice = await InvoiceRepository(session).get(invoice_id, for_update=for_update)
    if invoice is None:
        raise NotFound("invoice", invoice_id)
    return invoice


async def respond_detail(session: SessionDep, invoice: Invoice, response: Response) -> InvoiceDetail:
    response.headers["ETag"] = etag_for(invoice.id, invoice.version)
    return detail(invoice, await InvoiceRepository(session).lines(invoice.id))


@router.post(
    "",
    name="create_invoice",
    status_code=201,
    response_model=InvoiceDetail,
    summary="Create an invoice by hand (draft, or issued)",
)
async def create(
    body: InvoiceCreate,
    session: SessionDep,
    idem: IdempotencyDep,
    settings: SettingsDep,
    read_through: ReadThroughDep,
    principal: Annotated[Principal, require_roles(*ISSUERS)],
) -> Response:
    await read_through(body.customer_id)  # before the transaction opens (§10.2)
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    await require_customer(session, body.customer_id)
    invoice = await create_invoice(
        session,
        settings,
        customer_id=body.customer_id,
        currency=body.currency,
        lines=[LineSpec(**line.model_dump()) for line in body.lines],
        issue_date=body.issue_date or today(),
        payment_terms_days=body.payment_terms_days,
        created_by=principal.subject,
        note=body.note,
        issue=body.issue,
    )
    out = detail(invoice, await InvoiceRepository(session).lines(invoice.id))
    return await idem.respond(
        201, out, headers={"Location": f"/v1/invoices/{invoice.id}", "ETag": etag_for(invoice.id, invoice.version)}
    )


@router.get("", response_model=Page[InvoiceOut], summary="List invoices (cursor pagination)")
async def list_invoices(
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*READERS)],
    customer_id: uuid.UUID | None = None,
    status: Annotated[InvoiceStatus | None, Query()] = None,
    deal_id: uuid.UUID | None = None,
) -> Page[InvoiceOut]:
    rows, next_cursor = await InvoiceRepository(session).list(
        page, customer_id=customer_id, status=status.value if status else None, deal_id=deal_id
    )
    return Page[InvoiceOut](items=[InvoiceOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{invoice_id}", response_model=InvoiceDetail, summary="One invoice with its lines")
async def get_invoice(
    invoice_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*READERS)],
) -> InvoiceDetail:
    return await respond_detail(session, await load(session, invoice_id), response)


@router.post(
    "/{invoice_id}/issue",
    name="issue_invoice",
    response_model=InvoiceDetail,
    summary="Issue a draft: number, due date, invoice.issued",
)
async def issue(
    invoice_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    response: Response,
    settings: SettingsDep,
    _: Annotated[Principal, require_roles(*ISSUERS)],
    body: Annotated[InvoiceIssue | None, Body()] = None,
) -> InvoiceDetail:
    invoice = await load(session, invoice_id, for_update=True)
    check_if_match(request, invoice.id, invoice.version)
    await issue_invoice(session, settings, invoice, issue_date=body.issue_date if body else None)
    return await respond_detail(session, invoice, response)


@router.post(
    "/{invoice_id}/void",
    name="void_invoice",
    response_model=InvoiceDetail,
    summary="Void a draft or an unpaid issued invoice",
)
async def void(
    invoice_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*VOIDERS)],
) -> InvoiceDetail:
    invoice = await load(session, invoice_id, for_update=True)
    check_if_match(request, invoice.id, invoice.version)
    await void_invoice(session, invoice, today())
    return await respond_detail(session, invoice, response)


@router.post(
    "/{invoice_id}/apply-credit",
    response_model=InvoiceDetail,
    summary="Settle an open invoice from the customer's credit (earlier over-payments)",
)
async def apply_credit(
    invoice_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*ISSUERS)],
) -> InvoiceDetail:
    invoice = await load(session, invoice_id, for_update=True)
    await settle_from_credit(session, invoice, today())
    return await respond_detail(session, invoice, response)
