"""Local copies of other services' records, kept from their facts, for routing: who owns a
customer, a deal, an invoice's deal, who works a ticket."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from tessera_notifications.models import Base
from tessera_shared.db import UTCDateTime, utcnow
from tessera_shared.known_customers import KnownCustomerFields


class KnownCustomer(Base, KnownCustomerFields, table=True):
    """The customers' copy (names and owners; ``tessera_shared.known_customers``)."""


class DealCopy(Base, table=True):
    __tablename__ = "deal_copies"

    deal_id: uuid.UUID = Field(primary_key=True)
    customer_id: uuid.UUID | None = Field(default=None, index=True)
    owner_id: str | None = Field(default=None, max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TicketCopy(Base, table=True):
    __tablename__ = "ticket_copies"

    ticket_id: uuid.UUID = Field(primary_key=True)
    customer_id: uuid.UUID | None = Field(default=None, index=True)
    assignee_id: str | None = Field(default=None, max_length=200)
    group_name: str | None = Field(default=None, max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class InvoiceCopy(Base, table=True):
    __tablename__ = "invoice_copies"

    invoice_id: uuid.UUID = Field(primary_key=True)
    customer_id: uuid.UUID | None = Field(default=None, index=True)
    deal_id: uuid.UUID | None = Field(default=None)
    number: str | None = Field(default=None, max_length=50)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
