"""Customer use cases: change state and record the event in the same transaction (flush only)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_customer.customers.models import Customer
from tessera_customer.customers.repository import CustomerRepository
from tessera_customer.customers.rules import normalise_email, normalise_phone
from tessera_customer.customers.schemas import CustomerCreate
from tessera_shared.auth import Principal, Role
from tessera_shared.events.contracts import CustomerCreated
from tessera_shared.outbox import publish


async def create_customer(
    session: AsyncSession, data: CustomerCreate, principal: Principal
) -> Customer:
    owner = data.owner_id
    if owner is None and Role.SALES_REP in principal.roles:
        owner = principal.subject  # a rep's new customer is the rep's own
    customer = Customer(
        kind=data.kind,
        name=data.name,
        email=normalise_email(data.email),
        phone=normalise_phone(data.phone),
        owner_id=owner,
        tags=sorted(set(data.tags)),
    )
    CustomerRepository(session).add(customer)
    await session.flush()
    await publish(
        session,
        CustomerCreated(
            customer_id=customer.id, kind=customer.kind, name=customer.name, email=customer.email,
            owner_id=customer.owner_id, status=customer.status, created_at=customer.created_at,
        ),
        subject=customer.id,
    )
    return customer
