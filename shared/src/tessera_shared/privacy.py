"""Data-subject export: everything a service holds about one customer, from its own tables.

Every table of the service with a ``customer_id`` column contributes its rows, and so does
every table whose foreign key points at those rows (a ticket's comments, a deal's line items),
so a table added later is exported without anyone remembering to add it. The gateway composes
the four services' answers into one document.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter
from sqlalchemy import MetaData, select

from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.once import once_per_arguments

MAX_ROWS_PER_TABLE = 10_000


@once_per_arguments
def export_router(service: str, metadata: MetaData) -> APIRouter:
    router = APIRouter(prefix="/v1/data-subjects", tags=["privacy"])
    tables = [t for t in metadata.sorted_tables if "customer_id" in t.c]
    # Children: (child table, its FK column, the parent table, the parent's referenced column).
    children = [
        (t, fk.parent, fk.column.table, fk.column)
        for t in metadata.sorted_tables
        if "customer_id" not in t.c
        for fk in t.foreign_keys
        if fk.column.table in tables
    ]

    @router.get("/{customer_id}/export", summary="Everything this service holds about one customer")
    async def export_data_subject(
        customer_id: uuid.UUID,
        session: SessionDep,
        _: Annotated[Principal, require_roles(Role.ADMIN, Role.SERVICE)],
    ) -> dict[str, Any]:
        data: dict[str, list[dict[str, Any]]] = {}
        for table in tables:
            rows = (
                (
                    await session.execute(
                        select(table).where(table.c.customer_id == customer_id).limit(MAX_ROWS_PER_TABLE)
                    )
                )
                .mappings()
                .all()
            )
            data[table.name] = [dict(r) for r in rows]
        for child, fk_column, parent, parent_column in children:
            keys = [row[parent_column.name] for row in data.get(parent.name, [])]
            if not keys:
                continue
            rows = (
                (await session.execute(select(child).where(fk_column.in_(keys)).limit(MAX_ROWS_PER_TABLE)))
                .mappings()
                .all()
            )
            data.setdefault(child.name, []).extend(dict(r) for r in rows)
        return {
            "service": service,
            "customer_id": str(customer_id),
            "exported_at": datetime.now(UTC).isoformat(),
            "tables": data,
        }

    return router
