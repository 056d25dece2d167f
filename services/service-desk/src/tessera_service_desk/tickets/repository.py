from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_service_desk.tickets.models import Ticket, TicketComment
from tessera_shared.http.pagination import PageParams, paginate


class TicketRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, ticket_id: uuid.UUID, *, for_update: bool = False) -> Ticket | None:
        if not for_update:
            return await self.session.get(Ticket, ticket_id)
        # Row lock on PostgreSQL so two writers cannot interleave; SQLite has one writer anyway.
        stmt = select(Ticket).where(Ticket.id == ticket_id).execution_options(populate_existing=True)
        if self.session.bind.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    def add(self, ticket: Ticket) -> None:
        self.session.add(ticket)

    async def list(self, params: PageParams, **filters: object) -> tuple[list[Ticket], str | None]:
        stmt = select(Ticket)
        columns = {
            "customer_id": Ticket.customer_id,
            "status": Ticket.status,
            "assignee_id": Ticket.assignee_id,
            "priority": Ticket.priority,
            "category": Ticket.category,
            "group": Ticket.group_name,
        }
        for name, value in filters.items():
            if value is not None:
                stmt = stmt.where(columns[name] == value)
        return await paginate(self.session, stmt, params, (Ticket.id,))

    async def history(self, ticket: Ticket, limit: int) -> list[Ticket]:
        """The customer's other tickets opened before this one, newest first."""
        stmt = (
            select(Ticket)
            .where(Ticket.customer_id == ticket.customer_id, Ticket.id < ticket.id)
            .order_by(Ticket.id.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def comments(
        self, ticket_id: uuid.UUID, params: PageParams, *, public_only: bool
    ) -> tuple[list[TicketComment], str | None]:
        stmt = select(TicketComment).where(TicketComment.ticket_id == ticket_id)
        if public_only:
            stmt = stmt.where(TicketComment.public.is_(True))
        return await paginate(self.session, stmt, params, (TicketComment.id,))
