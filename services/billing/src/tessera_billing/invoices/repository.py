from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_billing.invoices.models import Invoice, InvoiceLine
from tessera_shared.http.pagination import PageParams, paginate


class InvoiceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, invoice_id: uuid.UUID, *, for_update: bool = False) -> Invoice | None:
        stmt = select(Invoice).where(col(Invoice.id) == invoice_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_deal(self, deal_id: uuid.UUID) -> Invoice | None:
        return (await self.session.execute(select(Invoice).where(col(Invoice.deal_id) == deal_id))).scalar_one_or_none()

    async def lines(self, invoice_id: uuid.UUID) -> list[InvoiceLine]:
        stmt = select(InvoiceLine).where(col(InvoiceLine.invoice_id) == invoice_id).order_by(col(InvoiceLine.position))
        return list((await self.session.execute(stmt)).scalars())

    async def list(
        self, params: PageParams, *, customer_id: uuid.UUID | None, status: str | None, deal_id: uuid.UUID | None
    ) -> tuple[list[Invoice], str | None]:
        stmt = select(Invoice)
        if customer_id is not None:
            stmt = stmt.where(col(Invoice.customer_id) == customer_id)
        if status is not None:
            stmt = stmt.where(col(Invoice.status) == status)
        if deal_id is not None:
            stmt = stmt.where(col(Invoice.deal_id) == deal_id)
        return await paginate(self.session, stmt, params, (col(Invoice.id),))
