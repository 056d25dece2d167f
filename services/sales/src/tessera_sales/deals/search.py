"""POST /v1/deals/search: the shared search language over deals (issue 23, item 2).

Owner rules as the list applies them: a rep finds only the deals they own (``scope_owner``),
managers, finance and services every deal. Free text is a prefix of the title.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from sqlalchemy import ColumnElement, select
from sqlmodel import col

from tessera_sales.api import DEAL_READERS
from tessera_sales.custom_fields import CUSTOM_FIELDS
from tessera_sales.deals import service
from tessera_sales.deals.models import TAGS, Deal
from tessera_sales.deals.repository import DealRepository
from tessera_sales.deals.router import deal_out
from tessera_sales.deals.schemas import DealOut
from tessera_sales.ownership import scope_owner
from tessera_sales.pipelines.rules import KINDS
from tessera_shared.auth import Principal, require_roles
from tessera_shared.custom_fields import PROPERTY_PATTERN
from tessera_shared.deps import SessionDep
from tessera_shared.http.pagination import Page
from tessera_shared.search import Prop, Searchable, run_search

router = APIRouter(prefix="/v1/deals", tags=["deals"])


def _title(text: str) -> ColumnElement[bool]:
    return col(Deal.title).startswith(text, autoescape=True)


SEARCH = Searchable(
    resource="Deal",
    id_column=col(Deal.id),
    properties={
        "id": Prop(col(Deal.id), "uuid", sortable=True),
        "customer_id": Prop(col(Deal.customer_id), "uuid"),
        "owner_id": Prop(col(Deal.owner_id), "text", nullable=True),
        # A stage key of the deal's pipeline (each pipeline has its own); stage_kind: open, won or lost.
        "stage": Prop(col(Deal.stage), "text"),
        "stage_kind": Prop(col(Deal.stage_kind), "enum", KINDS),
        "pipeline_id": Prop(col(Deal.pipeline_id), "uuid"),
        "campaign_id": Prop(col(Deal.campaign_id), "uuid", nullable=True),
        "amount": Prop(col(Deal.amount), "decimal", sortable=True),
        "expected_close_date": Prop(col(Deal.expected_close_date), "date", nullable=True),
        "created_at": Prop(col(Deal.created_at), "datetime", sortable=True),
        "tags": TAGS.prop(),
    },
    query=_title,
    dynamic=PROPERTY_PATTERN,
    dynamic_doc="`custom_fields.<key>`: a deal custom field, with the operators of its type "
    "(ranges for number, money and date; contains_token for a multi_enum value)",
    query_fields=("title",),
)
DealSearch = SEARCH.request_model


@router.post(
    "/search",
    response_model=Page[DealOut],
    summary="Search deals (a rep finds own deals): filter groups (OR of ANDs), one sort, free text",
)
async def search_deals(
    body: DealSearch,  # type: ignore[valid-type]
    session: SessionDep,
    principal: Annotated[Principal, require_roles(*DEAL_READERS)],
) -> Page[DealOut]:
    stmt = select(Deal)
    if (scope := scope_owner(principal)) is not None:
        stmt = stmt.where(scope.clause(col(Deal.owner_id), col(Deal.team_id)))
    search = await CUSTOM_FIELDS.searchable(session, "deal", SEARCH)
    rows, next_cursor = await run_search(session, search, stmt, body)
    lines = await DealRepository(session).lines([d.id for d in rows])
    pipelines = await service.pipelines_of(session, rows)
    return Page[DealOut](items=[deal_out(d, lines.get(d.id, []), pipelines) for d in rows], next_cursor=next_cursor)
