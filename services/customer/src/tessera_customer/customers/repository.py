from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Select, delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_customer.customers.models import Customer, CustomerTag
from tessera_customer.customers.rules import name_key, normalise_email, normalise_phone
from tessera_shared.http.pagination import PageParams, paginate


@dataclass(frozen=True)
class CustomerFilter:
    """Filters the list and saved segments share."""

    status: str | None = None
    tier: str | None = None
    owner_id: str | None = None
    unowned: bool | None = None
    tag: str | None = None
    relation: str | None = None
    relationship_type: str | None = None
    kind: str | None = None
    email: str | None = None
    q: str | None = None
    country: str | None = None
    region: str | None = None
    city: str | None = None
    gender: str | None = None
    age_band: str | None = None
    occupation: str | None = None
    rfm_segment: str | None = None
    frequency_class: str | None = None
    lifecycle_stage: str | None = None
    min_churn_risk: int | None = None

    def apply(self, stmt: Select) -> Select:  # type: ignore[type-arg]
        stmt = stmt.where(Customer.merged_into_id.is_(None))
        for name in ("status", "tier", "owner_id", "relation", "relationship_type", "kind", "country",
                     "region", "city", "gender", "age_band", "occupation", "rfm_segment", "frequency_class",
                     "lifecycle_stage"):
            value = getattr(self, name)
            if value is not None:
                stmt = stmt.where(getattr(Customer, name) == value)
        if self.unowned is not None:
            stmt = stmt.where(Customer.owner_id.is_(None) if self.unowned else Customer.owner_id.is_not(None))
        if self.email:
            stmt = stmt.where(Customer.email == normalise_email(self.email))
        if self.tag:
            stmt = stmt.where(Customer.id.in_(select(CustomerTag.customer_id).where(CustomerTag.tag == self.tag)))
        if self.min_churn_risk is not None:
            stmt = stmt.where(Customer.churn_risk >= self.min_churn_risk)
        if self.q:
            stmt = stmt.where(_search(self.q))
        return stmt


def _search(q: str):  # noqa: ANN202 - a SQL condition
    """Prefix search on the normalised name, the email or the phone digits (all indexed)."""
    q = q.strip()
    conditions = []
    key = name_key(q)
    if key:
        conditions.append(Customer.name_key.startswith(key, autoescape=True))
    if "@" in q or "." in q:
        conditions.append(Customer.email.startswith(normalise_email(q) or "", autoescape=True))
    phone = normalise_phone(q)
    if phone and len(phone.lstrip("+")) >= 3:
        conditions.append(Customer.phone.startswith(phone, autoescape=True))
    return or_(*conditions) if conditions else Customer.id.is_(None)


class CustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, customer_id: uuid.UUID) -> Customer | None:
        return await self.session.get(Customer, customer_id)

    def add(self, customer: Customer) -> None:
        self.session.add(customer)

    async def set_tags(self, customer_id: uuid.UUID, tags: list[str]) -> None:
        await self.session.execute(delete(CustomerTag).where(CustomerTag.customer_id == customer_id))
        if tags:
            await self.session.execute(insert(CustomerTag), [{"customer_id": customer_id, "tag": t} for t in tags])

    async def list(self, params: PageParams, filters: CustomerFilter) -> tuple[list[Customer], str | None]:
        return await paginate(self.session, filters.apply(select(Customer)), params, (Customer.id,))
