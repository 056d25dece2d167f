"""POST /v1/customers/search: the shared search language over customers (issue 23, item 2).

Who reads the list reads the search, over the same rows (merged customers left out, by the
list's own filter); free text is the list's ``q`` (a prefix of the name, the e-mail or the phone).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from sqlalchemy import ColumnElement
from sqlmodel import col

from tessera_customer.api import READERS
from tessera_customer.custom_fields import CUSTOM_FIELDS
from tessera_customer.customers.answer import customers_page_answer
from tessera_customer.customers.filters import CustomerFilter, _search
from tessera_customer.customers.models import TAGS, Customer
from tessera_customer.customers.repository import LIVE_CUSTOMERS, page_values
from tessera_customer.customers.rules import name_key, normalise_email, normalise_phone
from tessera_customer.customers.schemas import CustomerOut
from tessera_shared.auth import Principal, require_roles
from tessera_shared.custom_fields import PROPERTY_PATTERN
from tessera_shared.deps import ReadSessionDep
from tessera_shared.http.pagination import Page
from tessera_shared.search import Prop, Searchable, enum_values, run_search

router = APIRouter(prefix="/v1/customers", tags=["customers"])


def _enum(name: str) -> tuple[str, ...]:
    return enum_values(CustomerFilter.model_fields[name].annotation)


def _name_token(token: str) -> ColumnElement[bool]:
    """A name starting with the token (compared as the normalised name key)."""
    return col(Customer.name_key).startswith(name_key(token) or token, autoescape=True)


SEARCH = Searchable(
    resource="Customer",
    id_column=col(Customer.id),
    properties={
        "id": Prop(col(Customer.id), "uuid", sortable=True),
        "name": Prop(col(Customer.name_key), "text", sortable=True, token=_name_token, filterable=False),
        "email": Prop(col(Customer.email), "text", nullable=True, normalise=normalise_email),
        "phone": Prop(col(Customer.phone), "text", nullable=True, normalise=normalise_phone),
        "status": Prop(col(Customer.status), "enum", _enum("status"), sortable=True),
        "tier": Prop(col(Customer.tier), "enum", _enum("tier"), nullable=True),
        "kind": Prop(col(Customer.kind), "enum", _enum("kind")),
        "owner_id": Prop(col(Customer.owner_id), "text", nullable=True),
        "relation": Prop(col(Customer.relation), "enum", _enum("relation"), nullable=True),
        "country": Prop(col(Customer.country), "text", nullable=True),
        "rfm_segment": Prop(col(Customer.rfm_segment), "text", nullable=True),
        "monetary": Prop(col(Customer.monetary), "decimal", sortable=True),
        "last_purchase_at": Prop(col(Customer.last_purchase_at), "datetime", nullable=True),
        "created_at": Prop(col(Customer.created_at), "datetime", sortable=True),
        "tags": TAGS.prop(),
    },
    query=_search,
    query_fields=("name", "email", "phone"),
    dynamic=PROPERTY_PATTERN,
    dynamic_doc="`custom_fields.<key>`: a customer custom field, with the operators of its type "
    "(ranges for number, money and date; contains_token for a multi_enum value)",
)
CustomerSearch = SEARCH.request_model


@router.post(
    "/search",
    response_model=Page[CustomerOut],
    summary="Search customers: filter groups (OR of ANDs), one sort, free text; keyset pages",
)
async def search_customers(
    body: CustomerSearch,  # type: ignore[valid-type]
    session: ReadSessionDep,  # a search reads: no transaction round trips
    _: Annotated[Principal, require_roles(*READERS)],
) -> Response:
    search = await CUSTOM_FIELDS.searchable(session, "customer", SEARCH)
    # The page as rows of columns, written by customers/answer.py (the bytes Page[CustomerOut]
    # gave, which documents it): no ORM objects, no models built and validated again.
    rows, next_cursor = await run_search(session, search, LIVE_CUSTOMERS, body, rows=True)
    return Response(customers_page_answer(page_values(rows), next_cursor), media_type="application/json")
