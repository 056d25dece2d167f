"""POST /v1/invoices/search: the shared search language over invoices (issue 23, item 2).

Whoever reads the invoice list reads the search (the list has no owner rule). Free text is a
prefix of the bill-to name.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from sqlalchemy import ColumnElement, select
from sqlmodel import col

from tessera_billing.api import INVOICE_READERS
from tessera_billing.invoices.models import Invoice
from tessera_billing.invoices.rules import InvoiceStatus
from tessera_billing.invoices.schemas import InvoiceOut
from tessera_shared.auth import Principal, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.pagination import Page
from tessera_shared.search import Prop, Searchable, enum_values, run_search

router = APIRouter(prefix="/v1/invoices", tags=["invoices"])


def _bill_to(text: str) -> ColumnElement[bool]:
    return col(Invoice.customer_name).startswith(text, autoescape=True)


SEARCH = Searchable(
    resource="Invoice",
    id_column=col(Invoice.id),
    properties={
        "id": Prop(col(Invoice.id), "uuid", sortable=True),
        "number": Prop(col(Invoice.number), "text", nullable=True),
        "customer_id": Prop(col(Invoice.customer_id), "uuid"),
        "deal_id": Prop(col(Invoice.deal_id), "uuid", nullable=True),
        "status": Prop(col(Invoice.status), "enum", enum_values(InvoiceStatus), sortable=True),
        "issue_date": Prop(col(Invoice.issue_date), "date", sortable=True),
        "due_date": Prop(col(Invoice.due_date), "date", sortable=True),
        "total": Prop(col(Invoice.total), "decimal", sortable=True),
        "balance_due": Prop(col(Invoice.balance_due), "decimal", sortable=True),
    },
    query=_bill_to,
    query_fields=("customer_name",),
)
InvoiceSearch = SEARCH.request_model


@router.post(
    "/search",
    response_model=Page[InvoiceOut],
    summary="Search invoices: filter groups (OR of ANDs), one sort, free text; keyset pages",
)
async def search_invoices(
    body: InvoiceSearch,  # type: ignore[valid-type]
    session: SessionDep,
    _: Annotated[Principal, require_roles(*INVOICE_READERS)],
) -> Page[InvoiceOut]:
    rows, next_cursor = await run_search(session, SEARCH, select(Invoice), body)
    return Page[InvoiceOut](items=[InvoiceOut.model_validate(r) for r in rows], next_cursor=next_cursor)
