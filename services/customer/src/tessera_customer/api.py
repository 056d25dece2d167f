"""HTTP helpers the customer service's routers share: who may call, the settings dependency, the read audit."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from tessera_customer.customers.models import AccessLog
from tessera_customer.settings import CustomerSettings
from tessera_shared.auth import Principal, Role
from tessera_shared.db import new_id, utcnow

# Who may work with customer records: named here, not in a router, because every feature's
# router applies the same rules and no router imports another.
WRITERS = (Role.SALES_MANAGER, Role.SALES_REP, Role.SUPPORT_AGENT, Role.SERVICE)
READERS = (*WRITERS, Role.BILLING_CLERK, Role.FINANCE_MANAGER)
EDITORS = (Role.SALES_MANAGER, Role.SALES_REP, Role.SERVICE)


def _settings(request: Request) -> CustomerSettings:
    return request.app.state.settings


SettingsDep = Annotated[CustomerSettings, Depends(_settings)]


def audit_read(request: Request, customer_id: uuid.UUID, principal: Principal, action: str) -> None:
    """Record a read of personal data (written behind the request, in batches)."""
    request.app.state.runtime.rows.add(
        AccessLog.__table__,
        {"id": new_id(), "customer_id": customer_id, "principal": principal.subject, "action": action, "at": utcnow()},
    )
