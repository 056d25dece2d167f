from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from tessera_service_desk.api import NO_NUL
from tessera_service_desk.kb.models import KbArticle, KbArticleTicket
from tessera_service_desk.kb.repository import ArticleRepository
from tessera_service_desk.kb.schemas import (
    ArticleCreate,
    ArticleOut,
    ArticlePatch,
    ArticleStatus,
    Feedback,
    TicketLink,
    TicketLinkOut,
)
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep, WriteSessionDep
from tessera_shared.errors import InvalidInput, NotFound
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/v1/kb/articles", tags=["knowledge base"])

AUTHORS = (Role.SUPPORT_AGENT, Role.SERVICE)
READERS = (*AUTHORS, Role.SALES_MANAGER, Role.SALES_REP, Role.BILLING_CLERK, Role.FINANCE_MANAGER)


def article_out(a: KbArticle, solved: int) -> ArticleOut:
    votes = a.helpful_count + a.not_helpful_count
    return ArticleOut(
        id=a.id,
        title=a.title,
        body=a.body,
        tags=a.tags,
        status=a.status,
        author_id=a.author_id,
        view_count=a.view_count,
        helpful_count=a.helpful_count,
        not_helpful_count=a.not_helpful_count,
        helpfulness=round(a.helpful_count / votes, 4) if votes else None,
        solved_ticket_count=solved,
        created_at=a.created_at,
        updated_at=a.updated_at,
        version=a.version,
    )


async def _article(session: SessionDep, article_id: uuid.UUID) -> KbArticle:
    article = await ArticleRepository(session).get(article_id)
    if article is None:
        raise NotFound("article", article_id)
    return article


async def _out(session: SessionDep, article: KbArticle) -> ArticleOut:
    counts = await ArticleRepository(session).solved_counts([article.id])
    return article_out(article, counts.get(article.id, 0))


@router.post("", status_code=201, response_model=ArticleOut, summary="Write a solution article")
async def create_article(
    body: ArticleCreate,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*AUTHORS)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    now = utcnow()
    article = KbArticle(
        title=body.title,
        body=body.body,
        tags=sorted(set(body.tags)),
        status=body.status,
        author_id=principal.subject,
        created_at=now,
        updated_at=now,
    )
    await ArticleRepository(session).add(article)
    return await idem.respond(
        201,
        article_out(article, 0),
        headers={"Location": f"/v1/kb/articles/{article.id}", "ETag": etag_for(article.id, article.version)},
    )


@router.get(
    "",
    response_model=Page[ArticleOut],
    summary="List articles, or search them with q (best matches first, no further pages)",
)
async def list_articles(
    session: SessionDep,
    page: PageQuery,
    _: Annotated[Principal, require_roles(*READERS)],
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, pattern=NO_NUL, description="Full-text search")
    ] = None,
    status: ArticleStatus | None = None,
    ticket_id: Annotated[uuid.UUID | None, Query(description="Articles that solved this ticket")] = None,
) -> Page[ArticleOut]:
    repo = ArticleRepository(session)
    if q is not None:
        if page.cursor is not None:
            raise InvalidInput("cursor", "search results are one ranked page; refine q instead", "query")
        rows, cursor = await repo.search(q, status=status or "published", limit=page.limit), None
    else:
        rows, cursor = await repo.list(page, status=status, ticket_id=ticket_id)
    counts = await repo.solved_counts([a.id for a in rows])
    return Page[ArticleOut](items=[article_out(a, counts.get(a.id, 0)) for a in rows], next_cursor=cursor)


@router.get("/{article_id}", response_model=ArticleOut, summary="Read an article (counts a view)")
async def get_article(
    article_id: uuid.UUID,
    session: WriteSessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*READERS)],
) -> ArticleOut:
    article = await _article(session, article_id)
    if article.status == "published":
        repo = ArticleRepository(session)
        await repo.count_view(article.id)
        await repo.reload(article)
    response.headers["ETag"] = etag_for(article.id, article.version)
    return await _out(session, article)


@router.patch("/{article_id}", response_model=ArticleOut, summary="Edit an article (If-Match honoured)")
async def patch_article(
    article_id: uuid.UUID,
    body: ArticlePatch,
    request: Request,
    session: SessionDep,
    response: Response,
    _: Annotated[Principal, require_roles(*AUTHORS)],
) -> ArticleOut:
    article = await _article(session, article_id)
    check_if_match(request, article.id, article.version)
    if not body.model_fields_set:
        raise InvalidInput("body", "name at least one field to change")
    for name in body.model_fields_set:
        value = getattr(body, name)
        if value is None:
            raise InvalidInput(name, "may not be null")
        setattr(article, name, sorted(set(value)) if name == "tags" else value)
    article.version += 1
    article.updated_at = utcnow()
    await ArticleRepository(session).flush()
    response.headers["ETag"] = etag_for(article.id, article.version)
    return await _out(session, article)


@router.delete(
    "/{article_id}", status_code=204, summary="Archive an article (kept for the tickets it solved; hidden from search)"
)
async def delete_article(
    article_id: uuid.UUID, session: SessionDep, _: Annotated[Principal, require_roles(*AUTHORS)]
) -> Response:
    article = await _article(session, article_id)
    if article.status != "archived":
        article.status, article.version, article.updated_at = "archived", article.version + 1, utcnow()
    return Response(status_code=204)


@router.post("/{article_id}/feedback", response_model=ArticleOut, summary="Was this article helpful?")
async def rate_article(
    article_id: uuid.UUID, body: Feedback, session: SessionDep, _: Annotated[Principal, require_roles(*READERS)]
) -> ArticleOut:
    article = await _article(session, article_id)
    repo = ArticleRepository(session)
    await repo.vote(article.id, body.helpful)
    await repo.reload(article)
    return await _out(session, article)


@router.post(
    "/{article_id}/tickets",
    status_code=201,
    response_model=TicketLinkOut,
    summary="Record that this article solved a ticket (again: 200, same link)",
)
async def link_ticket(
    article_id: uuid.UUID,
    body: TicketLink,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*AUTHORS)],
) -> TicketLinkOut:
    await _article(session, article_id)
    repo = ArticleRepository(session)
    if not await repo.ticket_exists(body.ticket_id):
        raise InvalidInput("ticket_id", f"ticket {body.ticket_id} not found")
    existing = await repo.ticket_link(article_id, body.ticket_id)
    if existing is not None:
        response.status_code = 200
        return TicketLinkOut.model_validate(existing)
    link = KbArticleTicket(article_id=article_id, ticket_id=body.ticket_id, linked_by=principal.subject)
    await repo.add_ticket_link(link)
    return TicketLinkOut.model_validate(link)
