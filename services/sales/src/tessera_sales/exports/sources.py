"""What the sales service exports in bulk: deals and leads, under the lists' owner rules.

Who: the roles that read them (deals: sellers, finance and services; leads: sellers), each
seeing what its lists show (``tessera_sales.ownership``): a rep exports their own records,
managers, admins, finance and services every one. A lead's contact details are as the API
shows them (an erasure clears them on the lead itself).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

from tessera_sales.api import DEAL_READERS, SELLERS
from tessera_sales.deals.models import Deal
from tessera_sales.deals.search import SEARCH as DEAL_SEARCH
from tessera_sales.leads.models import Lead
from tessera_sales.leads.search import SEARCH as LEAD_SEARCH
from tessera_sales.ownership import scope_owner
from tessera_shared.auth import OwnerScope, Principal
from tessera_shared.exports.sources import ExportField, ExportSource, Kind

D = Deal.__table__.c
L = Lead.__table__.c


def _fields(*spec: tuple[str, Any] | tuple[str, Any, Kind]) -> list[ExportField]:
    return [ExportField(s[0], s[1], s[2] if len(s) == 3 else "text") for s in spec]


DEAL_FIELDS = _fields(
    ("id", D.id),
    ("external_id", D.external_id),
    ("customer_id", D.customer_id),
    ("title", D.title),
    ("amount", D.amount, "money"),
    ("currency", D.currency),
    ("stage", D.stage),
    ("probability", D.probability, "number"),
    ("owner_id", D.owner_id),
    ("expected_close_date", D.expected_close_date, "time"),
    ("campaign_id", D.campaign_id),
    ("lead_id", D.lead_id),
    ("payment_terms_days", D.payment_terms_days, "number"),
    ("tags", D.tags, "list"),
    ("lost_reason", D.lost_reason),
    ("closed_at", D.closed_at, "time"),
    ("created_by", D.created_by),
    ("created_at", D.created_at, "time"),
    ("updated_at", D.updated_at, "time"),
    # One JSON column: the values as the API shows them (the defined fields vary over time).
    ("custom_fields", D.custom_fields, "json"),
)
DEAL_DEFAULT = (
    "id",
    "external_id",
    "customer_id",
    "title",
    "amount",
    "currency",
    "stage",
    "probability",
    "owner_id",
    "expected_close_date",
    "closed_at",
    "created_at",
    "updated_at",
    "custom_fields",
)
LEAD_FIELDS = _fields(
    ("id", L.id),
    ("external_id", L.external_id),
    ("name", L.name),
    ("company", L.company),
    ("title", L.title),
    ("email", L.email),
    ("phone", L.phone),
    ("source", L.source),
    ("status", L.status),
    ("estimated_value", L.estimated_value, "money"),
    ("currency", L.currency),
    ("score", L.score, "number"),
    ("owner_id", L.owner_id),
    ("campaign_id", L.campaign_id),
    ("customer_id", L.customer_id),
    ("deal_id", L.deal_id),
    ("tags", L.tags, "list"),
    ("disqualified_reason", L.disqualified_reason),
    ("converted_at", L.converted_at, "time"),
    ("created_at", L.created_at, "time"),
    ("updated_at", L.updated_at, "time"),
    ("custom_fields", L.custom_fields, "json"),
)


def scope(principal: Principal) -> dict[str, Any]:
    owner = scope_owner(principal)
    return {} if owner is None else {"owners": sorted(owner.owners), "teams": sorted(owner.teams)}


def _owned_by(column: ColumnElement[Any]) -> Any:
    def conditions(scope: dict[str, Any]) -> list[ColumnElement[bool]]:
        if "owners" in scope:
            return [OwnerScope(frozenset(scope["owners"]), frozenset(scope.get("teams", ()))).clause(column)]
        return [column == scope["owner_id"]] if "owner_id" in scope else []  # a job queued before teams

    return conditions


SOURCES = {
    "deals": ExportSource(
        resource="deals",
        table=Deal.__table__,
        key=D.id,
        fields=DEAL_FIELDS,
        default_fields=DEAL_DEFAULT,
        roles=frozenset(DEAL_READERS),
        scope=scope,
        conditions=_owned_by(D.owner_id),
        search=DEAL_SEARCH,
    ),
    "leads": ExportSource(
        resource="leads",
        table=Lead.__table__,
        key=L.id,
        fields=LEAD_FIELDS,
        default_fields=tuple(f.name for f in LEAD_FIELDS),
        roles=frozenset(SELLERS),
        scope=scope,
        conditions=_owned_by(L.owner_id),
        search=LEAD_SEARCH,
    ),
}
