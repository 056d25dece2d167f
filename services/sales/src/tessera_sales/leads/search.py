"""POST /v1/leads/search: the shared search language over leads (issue 23, item 2).

Owner rules as the list applies them: a rep finds only the leads they own (``scope_owner``).
Free text is a prefix of the name or the company.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from sqlalchemy import ColumnElement, or_, select
from sqlmodel import col

from tessera_sales.api import SELLERS
from tessera_sales.custom_fields import CUSTOM_FIELDS
from tessera_sales.leads.models import TAGS, Lead
from tessera_sales.leads.schemas import LeadOut, LeadSource
from tessera_sales.ownership import scope_owner
from tessera_shared.auth import Principal, require_roles
from tessera_shared.custom_fields import PROPERTY_PATTERN
from tessera_shared.deps import SessionDep
from tessera_shared.http.pagination import Page
from tessera_shared.search import Prop, Searchable, enum_values, run_search

router = APIRouter(prefix="/v1/leads", tags=["leads"])

STATUSES = ("new", "contacted", "qualified", "disqualified", "converted")


def _name_or_company(text: str) -> ColumnElement[bool]:
    return or_(col(Lead.name).startswith(text, autoescape=True), col(Lead.company).startswith(text, autoescape=True))


SEARCH = Searchable(
    resource="Lead",
    id_column=col(Lead.id),
    properties={
        "id": Prop(col(Lead.id), "uuid", sortable=True),
        "owner_id": Prop(col(Lead.owner_id), "text", nullable=True),
        "status": Prop(col(Lead.status), "enum", STATUSES, sortable=True),
        "source": Prop(col(Lead.source), "enum", enum_values(LeadSource)),
        "campaign_id": Prop(col(Lead.campaign_id), "uuid", nullable=True),
        "customer_id": Prop(col(Lead.customer_id), "uuid", nullable=True),
        "email": Prop(col(Lead.email), "text", nullable=True, normalise=str.lower),
        "score": Prop(col(Lead.score), "int", sortable=True),
        "created_at": Prop(col(Lead.created_at), "datetime", sortable=True),
        "tags": TAGS.prop(),
    },
    query=_name_or_company,
    dynamic=PROPERTY_PATTERN,
    dynamic_doc="`custom_fields.<key>`: a lead custom field, with the operators of its type "
    "(ranges for number, money and date; contains_token for a multi_enum value)",
    query_fields=("name", "company"),
)
LeadSearch = SEARCH.request_model


@router.post(
    "/search",
    response_model=Page[LeadOut],
    summary="Search leads (a rep finds own leads): filter groups (OR of ANDs), one sort, free text",
)
async def search_leads(
    body: LeadSearch,  # type: ignore[valid-type]
    session: SessionDep,
    principal: Annotated[Principal, require_roles(*SELLERS)],
) -> Page[LeadOut]:
    stmt = select(Lead)
    if (scope := scope_owner(principal)) is not None:
        stmt = stmt.where(scope.clause(col(Lead.owner_id), col(Lead.team_id)))
    search = await CUSTOM_FIELDS.searchable(session, "lead", SEARCH)
    rows, next_cursor = await run_search(session, search, stmt, body)
    return Page[LeadOut](items=[LeadOut.model_validate(x) for x in rows], next_cursor=next_cursor)
