"""Every property the search language declares is served by an index (issue 23, item 2).

A property a resource's ``POST /v1/{resource}/search`` filters or sorts by must lead an index of
its table (the primary key and unique constraints count), and each free-text field must lead a
prefix-capable index (pattern ops on PostgreSQL, or a column in the C collation): a new property
without its index fails here. The services' migration tests hold the migrations to these models,
and the PostgreSQL check below reads ``pg_indexes`` after the migrations ran.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Table, UniqueConstraint, text
from sqlalchemy.ext.asyncio import create_async_engine

import tessera_billing.main as billing_main
import tessera_customer.main as customer_main
import tessera_sales.main as sales_main
import tessera_service_desk.main as desk_main
from tessera_billing.invoices.search import SEARCH as INVOICES
from tessera_customer.customers.search import SEARCH as CUSTOMERS
from tessera_sales.deals.search import SEARCH as DEALS
from tessera_sales.leads.search import SEARCH as LEADS
from tessera_service_desk.tickets.search import SEARCH as TICKETS
from tessera_shared.search import Searchable
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of

# (service, its search, the columns its free text compares by prefix)
RESOURCES: list[tuple[str, Searchable, list[tuple[str, str]]]] = [
    ("customer", CUSTOMERS, [("customers", "name_key"), ("customers", "email"), ("customers", "phone")]),
    ("sales", DEALS, [("deals", "title")]),
    ("sales", LEADS, [("leads", "name"), ("leads", "company")]),
    ("service-desk", TICKETS, [("tickets", "subject")]),
    ("billing", INVOICES, [("invoices", "customer_name")]),
]
MAINS = {"customer": customer_main, "sales": sales_main, "service-desk": desk_main, "billing": billing_main}


def _table(search: Searchable, name: str) -> Table:
    table = search.id_column.table.metadata.tables[name]
    assert isinstance(table, Table)
    return table


def _leading(table: Table) -> dict[str, list[Any]]:
    """Leading column -> the indexes (or key constraints) it leads."""
    out: dict[str, list[Any]] = {}
    for index in table.indexes:
        out.setdefault(getattr(index.expressions[0], "name", ""), []).append(index)
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and constraint.columns:
            out.setdefault(next(iter(constraint.columns)).name, []).append(constraint)
    for column in table.columns:
        if column.unique:
            out.setdefault(column.name, []).append(column)
    out.setdefault(next(iter(table.primary_key.columns)).name, []).append(table.primary_key)
    return out


@pytest.mark.parametrize(("service", "search", "free_text"), RESOURCES, ids=[r[1].resource for r in RESOURCES])
def test_every_declared_property_leads_an_index(
    service: str, search: Searchable, free_text: list[tuple[str, str]]
) -> None:
    missing = []
    for name, prop in search.properties.items():
        table_name, column = prop.index_target()
        if column not in _leading(_table(search, table_name)):
            missing.append(f"{name} -> {table_name}.{column}")
    assert not missing, f"search properties without an index: {missing}"
    for table_name, column in free_text:
        table = _table(search, table_name)
        indexes = _leading(table).get(column, [])
        collation = getattr(table.c[column].type.dialect_impl(_pg()), "collation", None)
        prefix_ready = collation == "C" or any(
            "varchar_pattern_ops" in getattr(i, "dialect_options", {}).get("postgresql", {}).get("ops", {}).values()
            for i in indexes
            if hasattr(i, "dialect_options")
        )
        assert indexes and prefix_ready, f"free text over {table_name}.{column} needs a pattern-ops index"


def _pg() -> Any:
    from sqlalchemy.dialects import postgresql

    return postgresql.dialect()


@pytest.mark.parametrize("service", sorted(MAINS))
async def test_postgres_has_an_index_for_every_declared_property(databases: DatabaseFactory, service: str) -> None:
    url = await databases.new(service, "postgres", migrations_of(MAINS[service].__file__))
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT tablename, indexdef FROM pg_indexes"))).all()
    finally:
        await engine.dispose()
    leading: set[tuple[str, str]] = set()
    for table, definition in rows:
        inner = definition.split(" USING btree (", 1)[-1]
        leading.add((table, inner.split(",")[0].split(" ")[0].strip(")").strip('"')))
    for own, search, _ in RESOURCES:
        if own != service:
            continue
        for name, prop in search.properties.items():
            assert prop.index_target() in leading, f"{search.resource}.{name}: no index leads {prop.index_target()}"
