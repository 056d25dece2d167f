"""A bulk ownership transfer finished in one service (``POST /api/v1/ownership/transfer``).

Each owning service moves its own records (each with its usual ``*.updated`` event) and then
announces the whole transfer once, with its counts. An event type has one producer, so the type
names the service's share: ``ownership.customers_transferred`` (customer service, on
``crm.customer``), ``ownership.sales_transferred`` (sales: leads, deals, activities, on
``crm.sales``) and ``ownership.tickets_transferred`` (service desk, on ``crm.service-desk``); a
reader of every share subscribes to the ``ownership.`` prefix. Keyed by the transfer's id.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from pydantic import Field

from tessera_shared.events.envelope import EventData


class OwnershipTransferred(EventData):
    """The fields of every service's share of a transfer (not an event type itself)."""

    # The service's own job id (the gateway's transfer names it among its parts).
    transfer_id: uuid.UUID
    from_user: str
    to_user: str
    # The resources this service moved, e.g. ["deals", "leads"].
    resources: list[str]
    # Only open records moved (deals not won or lost, leads not converted or disqualified,
    # tickets not solved or closed, activities not done; customers are always open).
    only_open: bool
    # Records moved, per resource.
    counts: dict[str, int] = Field(default_factory=dict)
    requested_by: str
    finished_at: datetime


class CustomersTransferred(OwnershipTransferred):
    event_type: ClassVar[str] = "ownership.customers_transferred"
    producer: ClassVar[str] = "customer"


class SalesTransferred(OwnershipTransferred):
    event_type: ClassVar[str] = "ownership.sales_transferred"
    producer: ClassVar[str] = "sales"


class TicketsTransferred(OwnershipTransferred):
    event_type: ClassVar[str] = "ownership.tickets_transferred"
    producer: ClassVar[str] = "service-desk"
