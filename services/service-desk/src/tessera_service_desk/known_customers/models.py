from __future__ import annotations

from sqlalchemy import Column, String
from sqlmodel import Field

from tessera_service_desk.models import Base
from tessera_shared.known_customers import KnownCustomerFields


class KnownCustomer(Base, KnownCustomerFields, table=True):
    """The service desk's local copy of a customer: its tier drives SLAs and priorities (the shared
    column set and conventions: ``tessera_shared.known_customers``)."""

    # The customer's service agreement level (服务协议); one axis of the SLA policy. The desk's own.
    service_level: str = Field(
        default="standard", sa_column=Column(String(30), nullable=False, server_default="standard")
    )
