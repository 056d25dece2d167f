"""Which requests read personal data, and recording them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_gateway.models import AuditEntry
from tessera_shared.api_keys import SUBJECT_PREFIX
from tessera_shared.auth import Principal
from tessera_shared.db import new_id, table_of, utcnow
from tessera_shared.http.pagination import PageParams, paginate
from tessera_shared.observability import request_id_var

# Resources whose reads return personal data (names, contact details, conversations).
PERSONAL_RESOURCES = frozenset({"customers", "leads", "tickets", "activities"})


def reads_personal_data(method: str, path: str) -> bool:
    return method == "GET" and path.strip("/").split("/")[0] in PERSONAL_RESOURCES


def customer_of(path: str) -> str | None:
    parts = path.strip("/").split("/")
    if parts[0] == "customers" and len(parts) > 1:
        try:
            return str(uuid.UUID(parts[1]))
        except ValueError:
            return None
    return None


def record(runtime: Any, principal: Principal, method: str, path: str, status: int) -> None:
    """Queue the audit row; it is written behind the request, in batches (see RowBuffer)."""
    runtime.rows.add(
        table_of(AuditEntry),
        {
            "id": new_id(),
            "at": utcnow(),
            "subject": principal.subject,
            "roles": sorted(principal.roles),
            "method": method,
            "path": f"/api/v1/{path}",
            "customer_id": customer_of(path),
            "status": status,
            "request_id": request_id_var.get(),
            # An API key's calls are audited under its name (subject "apikey:<id>").
            "subject_name": principal.name if principal.subject.startswith(SUBJECT_PREFIX) else None,
        },
    )


async def list_entries(
    session: AsyncSession, page: PageParams, *, subject: str | None, customer_id: uuid.UUID | None
) -> tuple[list[Any], str | None]:
    """One page of audit rows, oldest first, optionally for one subject and/or one customer."""
    stmt = select(AuditEntry)
    if subject:
        stmt = stmt.where(col(AuditEntry.subject) == subject)
    if customer_id:
        stmt = stmt.where(col(AuditEntry.customer_id) == str(customer_id))
    return await paginate(session, stmt, page, (col(AuditEntry.id),))
