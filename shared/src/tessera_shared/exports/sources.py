"""What one resource exports: its fields as columns, who may export it, which rows a caller sees."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import ColumnElement, FromClause
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_shared.auth import Principal
from tessera_shared.search import Searchable

# How a value is written: "list" as "a;b" in CSV (a list in JSON), "money" with two decimals
# (a string in JSON, as the API shows it), "json" as JSON text in CSV.
Kind = Literal["text", "number", "money", "time", "list", "json", "bool"]


@dataclass(frozen=True)
class ExportField:
    name: str
    column: ColumnElement[Any]
    kind: Kind = "text"


# Called in each chunk's transaction with the ids of the rows written (e.g. the access log of
# personal data read in bulk), and the requester.
RowsHook = Callable[[AsyncSession, Sequence[Any], str], Awaitable[None]]


@dataclass(frozen=True)
class ExportSource:
    """One exportable resource of a service.

    ``key`` is a unique, indexed column the rows are walked by (keyset pages, one short
    transaction each); ``scope`` fixes, when the export is asked, which rows the requester may
    see (stored with the job, as the job runs later and elsewhere); ``conditions`` turns that
    stored scope back into the WHERE clauses; ``roles`` may export it (admin always may)."""

    resource: str
    table: FromClause
    key: ColumnElement[Any]
    fields: Sequence[ExportField]
    default_fields: Sequence[str]
    roles: frozenset[str]
    scope: Callable[[Principal], dict[str, Any]]
    conditions: Callable[[dict[str, Any]], list[ColumnElement[bool]]]
    on_rows: RowsHook | None = None
    # The resource's search language (tessera_shared.search): an export's filter_groups.
    search: Searchable | None = None
    by_name: dict[str, ExportField] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})
        unknown = [name for name in self.default_fields if name not in self.by_name]
        if unknown:
            raise ValueError(f"default fields of {self.resource} not among its fields: {unknown}")
