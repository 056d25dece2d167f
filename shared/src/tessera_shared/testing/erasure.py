"""What an erasure must reach: the free-text columns of a service's tables holding customer data,
and which of them a service's erasure configuration (``tessera_shared.known_customers``) neither scrubs nor declares
non-personal.

A text column is one whose type is a string, text or JSON (directly or under a type decorator):
the columns a person's name, a note or a quoted message can land in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import JSON, MetaData, String
from sqlalchemy.types import TypeDecorator, TypeEngine

from tessera_shared.db import table_of
from tessera_shared.known_customers import KnownCustomers


def is_text(type_: TypeEngine[object]) -> bool:
    while isinstance(type_, TypeDecorator):
        type_ = type_.impl_instance
    return isinstance(type_, (String, JSON))


def text_columns(metadata: MetaData) -> dict[str, set[str]]:
    """Per table of ``metadata``: its text columns."""
    return {
        table.name: {column.name for column in table.columns if is_text(column.type)}
        for table in metadata.sorted_tables
    }


def customer_tables(metadata: MetaData) -> set[str]:
    """The tables holding customer data: those with a ``customer_id`` column and those that point at
    one of them by foreign key (a deal's lines, a ticket's comments), transitively."""
    tables = {table.name for table in metadata.sorted_tables if "customer_id" in table.c}
    grown = True
    while grown:
        more = {
            table.name
            for table in metadata.sorted_tables
            if table.name not in tables and any(fk.column.table.name in tables for fk in table.foreign_keys)
        }
        tables |= more
        grown = bool(more)
    return tables


def scrubbed_columns(known: KnownCustomers[Any]) -> dict[str, set[str]]:
    """Per table: the columns ``known``'s erasure writes over (its scrubs, and the copy's name)."""
    out: dict[str, set[str]] = {table_of(known.model).name: {"name"}}
    for scrub in known.scrubs:
        out.setdefault(table_of(scrub.model).name, set()).update(scrub.values)
    return out


def unaccounted(
    metadata: MetaData,
    known: KnownCustomers[Any],
    not_personal: Mapping[str, frozenset[str]],
    by_hooks: Mapping[str, frozenset[str]] | None = None,
) -> dict[str, set[str]]:
    """The text columns of the tables holding customer data neither scrubbed (by ``known``'s scrubs
    or a declared hook) nor declared non-personal; also the declarations that name no text column
    (a stale declaration hides nothing)."""
    return uncovered(metadata, scrubbed_columns(known), not_personal, by_hooks)


def uncovered(
    metadata: MetaData,
    scrubbed: Mapping[str, Iterable[str]],
    not_personal: Mapping[str, frozenset[str]],
    by_hooks: Mapping[str, frozenset[str]] | None = None,
    *,
    also: Iterable[str] = (),
) -> dict[str, set[str]]:
    """``unaccounted`` for an erasure declared as columns per table (``scrubbed``); ``also`` names
    further tables holding customer data (the customer service's own ``customers``)."""
    missing: dict[str, set[str]] = {}
    columns = text_columns(metadata)
    about_customers = customer_tables(metadata) | set(also)
    for table, names in columns.items():
        if table not in about_customers:
            continue
        covered = set(scrubbed.get(table, ())) | set(not_personal.get(table, ())) | set((by_hooks or {}).get(table, ()))
        if left := names - covered:
            missing[table] = left
    for declared in (not_personal, by_hooks or {}):  # scrubs may also clear non-text columns (ids)
        for table, declared_names in declared.items():
            if stale := set(declared_names) - columns.get(table, set()):
                missing.setdefault(f"{table} (declared, no such text column)", set()).update(stale)
    return missing
