"""Batch read of invoices (issue 23): ``POST /v1/invoices/batch/read`` answers up to 1,000 invoices
by id in one query, as the list shows them; missing ids are listed in ``not_found``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from sqlalchemy import select
from sqlmodel import col

from tessera_billing.api import INVOICE_READERS
from tessera_billing.invoices.models import Invoice
from tessera_billing.invoices.schemas import InvoiceOut
from tessera_shared.auth import Principal, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.batch import BatchRead, BatchReadResult

router = APIRouter(prefix="/v1/invoices/batch", tags=["invoices"])


@router.post("/read", response_model=BatchReadResult[InvoiceOut], summary="Read up to 1,000 invoices by id")
async def batch_read_invoices(
    body: BatchRead,
    session: SessionDep,
    _: Annotated[Principal, require_roles(*INVOICE_READERS)],
) -> BatchReadResult[InvoiceOut]:
    ids = list(dict.fromkeys(body.ids))
    found = {i.id: i for i in (await session.scalars(select(Invoice).where(col(Invoice.id).in_(ids)))).all()}
    return BatchReadResult[InvoiceOut](
        items=[InvoiceOut.model_validate(found[i]) for i in ids if i in found],
        not_found=[i for i in ids if i not in found],
    )
