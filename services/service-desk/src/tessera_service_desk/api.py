"""HTTP helpers shared by the desk's routers: who works tickets, the settings a request sees,
and the checks of client input a schema cannot express (text without NUL, times with a zone).

Refusals are domain errors (``tessera_shared.errors``); the shared handler shapes them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request

from tessera_service_desk.known_customers.handlers import KNOWN_CUSTOMERS
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_shared.auth import Role
from tessera_shared.customer_directory import CustomerDirectory
from tessera_shared.errors import InvalidInput
from tessera_shared.known_customers import ReadThrough, read_through

# Who works tickets (the ticket, SLA and summary routers).
AGENTS = (Role.SUPPORT_AGENT, Role.SERVICE)
# Who reads tickets (and a customer's service summary).
TICKET_READERS = (*AGENTS, Role.SALES_MANAGER, Role.SALES_REP, Role.BILLING_CLERK, Role.FINANCE_MANAGER)
# Staff who may read a survey's answer (and the last CSAT in the summary).
SURVEY_STAFF_READERS = frozenset({Role.ADMIN, Role.SUPPORT_AGENT, Role.SALES_MANAGER})

# PostgreSQL text cannot hold NUL; refusing it at the edge keeps such input a 422, not a 500.
NO_NUL = r"^[^\x00]*$"
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)


def settings_of(request: Request) -> ServiceDeskSettings:
    """The service's settings as a request sees them."""
    settings: ServiceDeskSettings = request.app.state.settings
    return settings


def customer_directory_of(request: Request) -> CustomerDirectory:
    """The customer service, as the known-customer read-through reaches it (docs/domain.md §10.2)."""
    directory: CustomerDirectory = request.app.state.customer_directory
    return directory


def read_through_of(request: Request) -> ReadThrough:
    """Known customers only (docs/domain.md §10.2): the read-through, which a router calls before
    its transaction opens."""
    return read_through(KNOWN_CUSTOMERS)(request)


def instant(name: str, value: datetime | None, location: str = "query") -> datetime | None:
    """A time given by a client: must carry a zone and lie in a sane range (clock arithmetic follows)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput(name, "must carry a time zone, e.g. 2026-01-05T09:00:00Z", location)
    if not EARLIEST <= value < LATEST:
        raise InvalidInput(name, "must be between 1970 and 3000", location)
    return value
