"""What the customer service exports in bulk: customers and contacts, as the API shows them.

Who: the roles that read customers; a sales rep exports the customers they own (and those
customers' contacts) — a rep's book, not the company's. Merged customers are left out, as in
the list; an erased customer's personal fields are empty, as the API shows them (erasure clears
the columns). Every exported customer's read is written to the access log (``export_bulk``)
with the chunk that holds it, as the segment export does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_customer.api import READERS
from tessera_customer.contacts.models import Contact
from tessera_customer.customers.models import AccessLog, Customer
from tessera_customer.customers.search import SEARCH
from tessera_shared.auth import OwnerScope, Principal, Role
from tessera_shared.db import dialect_name, new_id, utcnow
from tessera_shared.exports.sources import ExportField, ExportSource, Kind

C = Customer.__table__.c
K = Contact.__table__.c

# Roles whose exports hold every customer; a sales rep's hold the customers they own.
SEE_ALL = frozenset(
    {Role.ADMIN, Role.SALES_MANAGER, Role.SERVICE, Role.SUPPORT_AGENT, Role.BILLING_CLERK, Role.FINANCE_MANAGER}
)


def _fields(*spec: tuple[str, Any] | tuple[str, Any, Kind]) -> list[ExportField]:
    return [ExportField(s[0], s[1], s[2] if len(s) == 3 else "text") for s in spec]


CUSTOMER_FIELDS = _fields(
    ("id", C.id),
    ("external_id", C.external_id),
    ("kind", C.kind),
    ("name", C.name),
    ("email", C.email),
    ("phone", C.phone),
    ("owner_id", C.owner_id),
    ("status", C.status),
    ("tags", C.tags, "list"),
    ("relation", C.relation),
    ("relationship_type", C.relationship_type),
    ("gender", C.gender),
    ("age_band", C.age_band),
    ("occupation", C.occupation),
    ("education", C.education),
    ("country", C.country),
    ("region", C.region),
    ("city", C.city),
    ("climate_zone", C.climate_zone),
    ("lifestyle", C.lifestyle),
    ("social_status", C.social_status),
    ("preferences", C.preferences, "list"),
    ("custom_attributes", C.custom_attributes, "json"),
    ("custom_fields", C.custom_fields, "json"),
    ("lifecycle_stage", C.lifecycle_stage),
    ("tier", C.tier),
    ("purchase_count", C.purchase_count, "number"),
    ("first_purchase_at", C.first_purchase_at, "time"),
    ("last_purchase_at", C.last_purchase_at, "time"),
    ("monetary", C.monetary, "money"),
    ("rfm_segment", C.rfm_segment),
    ("frequency_class", C.frequency_class),
    ("churn_risk", C.churn_risk, "number"),
    ("erased_at", C.erased_at, "time"),
    ("created_at", C.created_at, "time"),
    ("updated_at", C.updated_at, "time"),
)
CUSTOMER_DEFAULT = (
    "id",
    "external_id",
    "kind",
    "name",
    "email",
    "phone",
    "owner_id",
    "status",
    "tags",
    "country",
    "city",
    "tier",
    "lifecycle_stage",
    "monetary",
    "created_at",
    "updated_at",
)
CONTACT_FIELDS = _fields(
    ("id", K.id),
    ("customer_id", K.customer_id),
    ("name", K.name),
    ("title", K.title),
    ("department", K.department),
    ("email", K.email),
    ("phone", K.phone),
    ("buying_role", K.buying_role),
    ("custom_fields", K.custom_fields, "json"),
    ("created_at", K.created_at, "time"),
    ("updated_at", K.updated_at, "time"),
)


def scope(principal: Principal) -> dict[str, Any]:
    """The customers' owners (a rep, and a team lead's members) a caller's export is limited to
    (none: every customer)."""
    if principal.has_any(SEE_ALL):
        return {}
    owners = OwnerScope.of(principal)
    return {"owners": sorted(owners.owners), "teams": sorted(owners.teams)}


def conditions(scope: dict[str, Any]) -> list[ColumnElement[bool]]:
    """Customers (or their contacts) not merged away, of the scope's owner if it names one."""
    conditions: list[ColumnElement[bool]] = [C.merged_into_id.is_(None)]
    if "owners" in scope:
        conditions.append(OwnerScope(frozenset(scope["owners"]), frozenset(scope.get("teams", ()))).clause(C.owner_id))
    elif "owner_id" in scope:  # a job queued before teams
        conditions.append(C.owner_id == scope["owner_id"])
    return conditions


# The access log's lines of a page of customers, their ids made by the server as new_id makes them:
# time-ordered (the primary key's index grows at its end), a UUIDv7's layout (48 bits of Unix
# milliseconds, the version 7, random bits); a million ids made in Python cost seconds of CPU.
# In customer order: the lines enter the (customer_id, at) index leaf after leaf, not at random
# (a million lines: 18.0 -> 9.8 s alone on the loaded machine).
_LOG_READS_PG = (
    "INSERT INTO access_log (id, customer_id, principal, action, at)"
    " SELECT encode(set_byte(b, 6, (get_byte(b, 6) & 15) | 112), 'hex')::uuid, c, :actor, 'export_bulk', :at"
    " FROM (SELECT c, overlay(uuid_send(gen_random_uuid()) PLACING"
    " substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6) AS b"
    " FROM unnest(CAST(:customers AS uuid[])) AS r(c) ORDER BY c) AS v"
)


async def log_reads(session: AsyncSession, customer_ids: Sequence[Any], actor: str) -> None:
    """The privacy audit: who read which customer's data, in bulk (a page of ids at a time; on
    PostgreSQL one statement over the ids as an array, not a row of parameters per customer)."""
    now = utcnow()
    if dialect_name(session) == "postgresql":
        await session.execute(text(_LOG_READS_PG), {"customers": list(customer_ids), "actor": actor, "at": now})
        return
    await session.execute(
        insert(AccessLog.__table__),
        [
            {"id": new_id(), "customer_id": c, "principal": actor, "action": "export_bulk", "at": now}
            for c in customer_ids
        ],
    )


SOURCES = {
    "customers": ExportSource(
        resource="customers",
        table=Customer.__table__,
        key=C.id,
        fields=CUSTOMER_FIELDS,
        default_fields=CUSTOMER_DEFAULT,
        roles=frozenset(READERS),
        scope=scope,
        conditions=conditions,
        on_rows=log_reads,
        search=SEARCH,
    ),
    "contacts": ExportSource(
        resource="contacts",
        table=Contact.__table__.join(Customer.__table__, K.customer_id == C.id),
        key=K.id,
        fields=CONTACT_FIELDS,
        default_fields=tuple(f.name for f in CONTACT_FIELDS),
        roles=frozenset(READERS),
        scope=scope,
        conditions=conditions,
    ),
}
