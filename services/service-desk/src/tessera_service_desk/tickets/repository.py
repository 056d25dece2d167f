from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_service_desk.tickets.models import TAGS, Ticket, TicketComment
from tessera_shared.db import dialect_name
from tessera_shared.http.pagination import PageParams, paginate


class TicketRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, ticket_id: uuid.UUID, *, for_update: bool = False) -> Ticket | None:
        if not for_update:
            return await self.session.get(Ticket, ticket_id)
        # Row lock on PostgreSQL so two writers cannot interleave; SQLite has one writer anyway.
        stmt = select(Ticket).where(col(Ticket.id) == ticket_id).execution_options(populate_existing=True)
        if dialect_name(self.session) == "postgresql":
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    def add(self, ticket: Ticket) -> None:
        self.session.add(ticket)

    async def list(
        self, params: PageParams, where: Sequence[Any] = (), **filters: object
    ) -> tuple[list[Ticket], str | None]:
        stmt = select(Ticket).where(*where)
        columns = {
            "customer_id": col(Ticket.customer_id),
            "status": col(Ticket.status),
            "assignee_id": col(Ticket.assignee_id),
            "priority": col(Ticket.priority),
            "category": col(Ticket.category),
            "group": col(Ticket.group_name),
        }
        for name, value in filters.items():
            if name == "tag":
                if value is not None:
                    stmt = stmt.where(TAGS.tagged(str(value)))
            elif value is not None:
                stmt = stmt.where(columns[name] == value)
        return await paginate(self.session, stmt, params, (col(Ticket.id),))

    async def history(self, ticket: Ticket, limit: int) -> builtins.list[Ticket]:
        """The customer's other tickets opened before this one, newest first."""
        stmt = (
            select(Ticket)
            .where(col(Ticket.customer_id) == ticket.customer_id, col(Ticket.id) < ticket.id)
            .order_by(col(Ticket.id).desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def comments(
        self, ticket_id: uuid.UUID, params: PageParams, *, public_only: bool
    ) -> tuple[builtins.list[TicketComment], str | None]:
        stmt = select(TicketComment).where(col(TicketComment.ticket_id) == ticket_id)
        if public_only:
            stmt = stmt.where(col(TicketComment.public).is_(True))
        return await paginate(self.session, stmt, params, (col(TicketComment.id),))
