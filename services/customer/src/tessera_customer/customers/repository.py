from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_customer.customers.models import Customer
from tessera_shared.http.pagination import PageParams, paginate


class CustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, customer_id: uuid.UUID) -> Customer | None:
        return await self.session.get(Customer, customer_id)

    def add(self, customer: Customer) -> None:
        self.session.add(customer)

    async def list(
        self, params: PageParams, *, status: str | None = None, owner_id: str | None = None,
        email: str | None = None,
    ) -> tuple[list[Customer], str | None]:
        stmt = select(Customer)
        if status:
            stmt = stmt.where(Customer.status == status)
        if owner_id:
            stmt = stmt.where(Customer.owner_id == owner_id)
        if email:
            stmt = stmt.where(Customer.email == email)
        return await paginate(self.session, stmt, params, (Customer.id,))
