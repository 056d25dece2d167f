from __future__ import annotations

import builtins
import uuid

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_service_desk.kb.models import KbArticle, KbArticleTicket
from tessera_service_desk.kb.search import search_for
from tessera_service_desk.tickets.models import Ticket
from tessera_shared.http.pagination import PageParams, paginate


class ArticleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, article_id: uuid.UUID) -> KbArticle | None:
        return await self.session.get(KbArticle, article_id)

    async def list(
        self, params: PageParams, *, status: str | None, ticket_id: uuid.UUID | None
    ) -> tuple[list[KbArticle], str | None]:
        stmt = select(KbArticle)
        if status is not None:
            stmt = stmt.where(col(KbArticle.status) == status)
        if ticket_id is not None:
            stmt = stmt.where(
                col(KbArticle.id).in_(
                    select(col(KbArticleTicket.article_id)).where(col(KbArticleTicket.ticket_id) == ticket_id)
                )
            )
        return await paginate(self.session, stmt, params, (col(KbArticle.id),))

    async def search(self, q: str, *, status: str, limit: int) -> builtins.list[KbArticle]:
        ids = await search_for(self.session).search(self.session, q, status=status, limit=limit)
        if not ids:
            return []
        found = {
            a.id: a for a in (await self.session.execute(select(KbArticle).where(col(KbArticle.id).in_(ids)))).scalars()
        }
        return [found[i] for i in ids if i in found]  # keep the ranking order

    async def solved_counts(self, article_ids: builtins.list[uuid.UUID]) -> dict[uuid.UUID, int]:
        if not article_ids:
            return {}
        rows = await self.session.execute(
            select(col(KbArticleTicket.article_id), func.count())
            .where(col(KbArticleTicket.article_id).in_(article_ids))
            .group_by(col(KbArticleTicket.article_id))
        )
        return {a: int(n) for a, n in rows}

    async def count_view(self, article_id: uuid.UUID) -> None:
        # Counted in SQL, so concurrent readers never lose a view; not a version change.
        await self.session.execute(
            update(KbArticle).where(col(KbArticle.id) == article_id).values(view_count=col(KbArticle.view_count) + 1)
        )

    async def vote(self, article_id: uuid.UUID, helpful: bool) -> None:
        stmt = update(KbArticle).where(col(KbArticle.id) == article_id)
        if helpful:
            stmt = stmt.values(helpful_count=col(KbArticle.helpful_count) + 1)
        else:
            stmt = stmt.values(not_helpful_count=col(KbArticle.not_helpful_count) + 1)
        await self.session.execute(stmt)

    async def add(self, article: KbArticle) -> None:
        self.session.add(article)
        await self.session.flush()

    async def flush(self) -> None:
        await self.session.flush()

    async def reload(self, article: KbArticle) -> None:
        """Read the article again (counters are changed in SQL, not on the object)."""
        await self.session.refresh(article)

    async def ticket_exists(self, ticket_id: uuid.UUID) -> bool:
        return await self.session.get(Ticket, ticket_id) is not None

    async def ticket_link(self, article_id: uuid.UUID, ticket_id: uuid.UUID) -> KbArticleTicket | None:
        stmt = select(KbArticleTicket).where(
            col(KbArticleTicket.article_id) == article_id, col(KbArticleTicket.ticket_id) == ticket_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add_ticket_link(self, link: KbArticleTicket) -> None:
        self.session.add(link)
        await self.session.flush()
