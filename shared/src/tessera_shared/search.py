"""One search language for the resources' ``POST /v1/{resource}/search`` (issue 23, item 2).

A request is ``{filter_groups: [{filters: [{property, operator, value}]}], sorts: [{property,
direction}], query, limit, after}``: filters AND within a group, groups OR; ``query`` is free text
over the resource's name-like fields (a prefix, served by an index); ``after`` is the
``next_cursor`` of the previous page (keyset on the sort key and the id, so pages stay stable).

Each resource declares its properties once (``Searchable``): name -> column, type, the
operators it takes, whether it sorts. The request model built from the declaration names the
properties and operators as enums (in the OpenAPI document, so generated clients know them);
values are parsed by the property's type (decimal strings, ISO dates, ISO date-times with a
zone, enum values, UUIDs) and a value that does not fit is a 422 naming it, as
``filter_groups.0.filters.1.value`` (the way every 422 of a JSON body names a nested field).
Every declared property is served by an index on PostgreSQL (the services' tests assert it).
"""

from __future__ import annotations

import enum
import re
import typing
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, WithJsonSchema, create_model
from sqlalchemy import ColumnElement, Float, Select, and_, cast, literal, not_, or_

from tessera_shared.db import dialect_name
from tessera_shared.db.types import is_bigint
from tessera_shared.decimals import decimal_pattern
from tessera_shared.errors import InvalidInput
from tessera_shared.http.pagination import (
    MAX_LIMIT,
    PageParams,
    _cursor_value,
    cursor_scope,
    decode_cursor,
    encode_cursor,
    paginate,
)

MAX_GROUPS = 5
MAX_FILTERS = 10
MAX_VALUES = 100
MAX_TEXT = 320

Kind = Literal["text", "enum", "uuid", "int", "decimal", "date", "datetime", "bool"]
OPERATORS = (
    "eq",
    "neq",
    "lt",
    "lte",
    "gt",
    "gte",
    "between",
    "in",
    "not_in",
    "has_property",
    "not_has_property",
    "contains_token",
)
_EQUALITY = ("eq", "neq", "in", "not_in")
_RANGE = ("lt", "lte", "gt", "gte", "between")
_PRESENCE = ("has_property", "not_has_property")
_ORDERED: frozenset[str] = frozenset({"int", "decimal", "date", "datetime"})


@dataclass(frozen=True)
class Prop:
    """One searchable property: its column, type and what it takes.

    ``token`` builds the condition of ``contains_token`` (only properties with one take it);
    ``normalise`` turns a text value into what the column stores (e.g. a lower-cased e-mail);
    ``indexed_by`` names the (table, leading column) of the index that serves it, when that is
    not the column itself (a tag: ``customer_tags.tag``)."""

    column: Any
    kind: Kind
    values: tuple[str, ...] = ()
    nullable: bool = False
    sortable: bool = False
    token: Callable[[str], ColumnElement[bool]] | None = None
    normalise: Callable[[str], Any] | None = None
    indexed_by: tuple[str, str] | None = None
    filterable: bool = True
    # What a parsed value becomes before it is compared (a custom field's date as its ISO text).
    bind: Callable[[Any], Any] | None = None
    # A decimal property that also takes a JSON number (a custom field of type number, which is
    # written either way); money and the built-in amounts take decimal strings only (docs/api.md).
    json_numbers: bool = False

    @property
    def operators(self) -> tuple[str, ...]:
        ops: list[str] = []
        if self.filterable:
            ops += [*_EQUALITY]
            if self.kind == "bool":
                ops = ["eq", "neq"]
            if self.kind in _ORDERED:
                ops += _RANGE
            if self.nullable:
                ops += _PRESENCE
        if self.token is not None:
            ops.append("contains_token")
        return tuple(sorted(ops, key=OPERATORS.index))

    def index_target(self) -> tuple[str, str]:
        """(table, column) an index must lead with to serve this property."""
        if self.indexed_by is not None:
            return self.indexed_by
        return self.column.table.name, self.column.name


@dataclass(frozen=True)
class Searchable:
    """A resource's search: its properties, its free-text fields and its id column."""

    resource: str  # "Customer": names the request's schemas
    id_column: Any
    properties: dict[str, Prop]
    query: Callable[[str], ColumnElement[bool]] | None = None
    query_fields: tuple[str, ...] = ()
    max_groups: int = MAX_GROUPS
    max_filters: int = MAX_FILTERS
    extra: dict[str, Any] = field(default_factory=dict)
    # Property names the request may give beyond ``properties`` (a pattern, e.g. the custom
    # fields' ``custom_fields.<key>``): the endpoint adds their ``Prop`` per request
    # (``with_properties``); a name still unknown then is a 422 naming it.
    dynamic: str | None = None
    dynamic_doc: str = ""

    def with_properties(self, extra: dict[str, Prop]) -> Searchable:
        """This search with ``extra`` properties (the same request model)."""
        if not extra:
            return self
        widened = replace(self, properties={**self.properties, **extra})
        widened.__dict__["request_model"] = self.request_model
        return widened

    @cached_property
    def request_model(self) -> type[BaseModel]:
        """The body of ``POST /v1/{resource}/search`` (enums of this resource's properties)."""
        names = tuple(self.properties)
        sortable = tuple(n for n, p in self.properties.items() if p.sortable) or ("id",)
        table = "; ".join(f"`{n}` ({p.kind}): {', '.join(p.operators)}" for n, p in self.properties.items())
        prop_type: Any = Literal[names]
        if self.dynamic is not None:
            prop_type = _named_or_matching(names, self.dynamic)
            table += f"; {self.dynamic_doc or self.dynamic}"
        sort_type: Any = Literal[sortable]
        sort_doc = f"Sorts by one of {', '.join(sortable)}"
        if self.dynamic is not None:
            sort_type = _named_or_matching(sortable, self.dynamic)
            sort_doc += (
                ", or by a custom field `custom_fields.<key>` (any type but multi_enum; not an archived field): "
                "numbers and money amounts as numbers, dates by date, text, enum and user values as text, "
                "booleans false before true. Records without the value come last in both directions"
            )
        operator_type: Any = Literal[OPERATORS]
        direction_type: Any = Literal["asc", "desc"]
        strict = ConfigDict(extra="forbid")
        filter_model = create_model(
            f"{self.resource}SearchFilter",
            __config__=strict,
            # Titled by resource: generated clients make a model of a union ("anyOf" with the
            # custom fields' pattern) named by its title, and "Property" is a reserved word to some.
            property=(
                prop_type,
                Field(
                    title=f"{self.resource}SearchProperty",
                    description=f"The property and the operators it takes: {table}.",
                ),
            ),
            operator=(operator_type, Field(description="Compares the property with `value`.")),
            value=(
                Any,
                Field(
                    default=None,
                    description="A value of the property's type (decimals as strings, ISO dates, ISO date-times "
                    "with a zone); a list for `in`/`not_in`, `[low, high]` (inclusive) for `between`, "
                    "none for `has_property`/`not_has_property`.",
                ),
            ),
        )
        group_model = create_model(
            f"{self.resource}SearchGroup",
            __config__=strict,
            filters=(list[filter_model], Field(min_length=1, max_length=self.max_filters)),
        )
        sort_model = create_model(
            f"{self.resource}SearchSort",
            __config__=strict,
            property=(
                sort_type,
                Field(title=f"{self.resource}SortProperty", description=f"{sort_doc}; then the id."),
            ),
            direction=(direction_type, "asc"),
        )
        query_doc = f"Free text: a prefix of {', '.join(self.query_fields)}." if self.query_fields else "Not supported."
        return create_model(
            f"{self.resource}Search",
            __config__=strict,
            __doc__=f"Filters AND within a group, groups OR (at most {self.max_groups} groups of "
            f"{self.max_filters} filters); one sort, then the id; keyset pages through `after`.",
            filter_groups=(
                list[group_model],
                Field(default_factory=list, max_length=self.max_groups),
            ),
            sorts=(list[sort_model], Field(default_factory=list, max_length=1)),
            query=(str | None, Field(default=None, min_length=1, max_length=200, description=query_doc)),
            limit=(StrictInt, Field(default=50, ge=1, le=MAX_LIMIT, description=f"Page size (max {MAX_LIMIT})")),
            after=(str | None, Field(default=None, max_length=512, description="`next_cursor` of the last page")),
        )

    # -- compiling ------------------------------------------------------------------------------

    def where(self, body: Any, *, numeric: Callable[[Any], Any] | None = None) -> ColumnElement[bool] | None:
        """The condition of a request (None: every row), or a 422 naming each bad filter."""
        errors: list[dict[str, str]] = []
        groups: list[ColumnElement[bool]] = []
        for g, group in enumerate(body.filter_groups):
            conditions = []
            for f, item in enumerate(group.filters):
                at = f"filter_groups.{g}.filters.{f}"
                try:
                    conditions.append(self.condition(item.property, item.operator, item.value, at, numeric))
                except InvalidInput as exc:
                    errors += exc.errors
            if conditions:
                groups.append(and_(*conditions))
        if errors:
            raise InvalidInput.of(errors)
        clauses = [or_(*groups)] if groups else []
        if body.query is not None:
            if self.query is None:
                raise InvalidInput("query", f"free text is not supported for {self.resource.lower()}s")
            text = body.query.strip()
            if not text or "\x00" in text:
                raise InvalidInput("query", "give some text without NUL")
            clauses.append(self.query(text))
        return and_(*clauses) if clauses else None

    def condition(
        self, name: str, operator: str, value: Any, at: str, numeric: Callable[[Any], Any] | None = None
    ) -> ColumnElement[bool]:
        """One filter as SQL (``numeric`` reads a decimal column as a number, for SQLite)."""
        prop = self.properties.get(name)
        if prop is None:
            raise InvalidInput(f"{at}.property", f"no property {name!r} here", kind="enum")
        return self.condition_of(prop, name, operator, value, at, numeric)

    def condition_of(
        self,
        prop: Prop,
        name: str,
        operator: str,
        value: Any,
        at: str = "value",
        numeric: Callable[[Any], Any] | None = None,
    ) -> ColumnElement[bool]:
        """One filter on ``prop`` (named ``name``) as SQL."""
        if operator not in prop.operators:
            raise InvalidInput(
                f"{at}.operator", f"'{name}' takes {', '.join(prop.operators)}, not '{operator}'", kind="enum"
            )
        column: ColumnElement[Any] = prop.column
        if numeric is not None and prop.kind == "decimal":
            column = numeric(column)
        if operator in _PRESENCE:
            if value is not None:
                raise InvalidInput(f"{at}.value", f"'{operator}' takes no value")
            return column.is_not(None) if operator == "has_property" else column.is_(None)
        if operator == "contains_token":
            token = _text(value, f"{at}.value")
            return prop.token(token) if prop.token is not None else _unreachable()
        if operator in ("in", "not_in"):
            if not isinstance(value, list) or not 1 <= len(value) <= MAX_VALUES:
                raise InvalidInput(f"{at}.value", f"a list of 1 to {MAX_VALUES} values")
            values = [self.parse(prop, v, f"{at}.value.{i}") for i, v in enumerate(value)]
            if operator == "in":
                return column.in_(values)
            excluded = not_(column.in_(values))
            return or_(excluded, column.is_(None)) if prop.nullable else excluded
        if operator == "between":
            if not isinstance(value, list) or len(value) != 2:
                raise InvalidInput(f"{at}.value", "[low, high]: two values")
            low, high = (self.parse(prop, v, f"{at}.value.{i}") for i, v in enumerate(value))
            if low > high:
                raise InvalidInput(f"{at}.value", "low is above high")
            return column.between(low, high)
        parsed = self.parse(prop, value, f"{at}.value")
        compared: ColumnElement[bool] = _COMPARISONS[operator](column, parsed)
        return or_(compared, column.is_(None)) if operator == "neq" and prop.nullable else compared

    def parse(self, prop: Prop, value: Any, at: str) -> Any:
        """``value`` as the column takes it, or a 422 naming ``at``."""
        parsed = self._parse(prop, value, at)
        return prop.bind(parsed) if prop.bind is not None else parsed

    def _parse(self, prop: Prop, value: Any, at: str) -> Any:
        kind = prop.kind
        if value is None:
            raise InvalidInput(at, "a value is required (has_property/not_has_property test for none)")
        if kind == "text":
            text = _text(value, at)
            return prop.normalise(text) if prop.normalise else text
        if kind == "enum":
            if value not in prop.values:
                raise InvalidInput(at, f"one of {', '.join(prop.values)}", kind="enum")
            return value
        if kind == "uuid":
            try:
                return uuid.UUID(value) if isinstance(value, str) else _fail()
            except ValueError:
                raise InvalidInput(at, "a UUID") from None
        if kind == "bool":
            if not isinstance(value, bool):
                raise InvalidInput(at, "true or false")
            return value
        if kind == "int":
            if not is_bigint(value):
                raise InvalidInput(at, "an integer")
            return value
        if kind == "decimal":
            return _decimal(value, at, json_numbers=prop.json_numbers)
        if kind == "date":
            try:
                return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else _fail()
            except ValueError:
                raise InvalidInput(at, "an ISO 8601 date, e.g. 2026-03-31") from None
        return _datetime(value, at)


def _named_or_matching(names: tuple[str, ...], pattern: str) -> Any:
    """A property name: one of ``names`` or one matching ``pattern`` (a 422 naming the field
    itself otherwise); documented as the enum or the pattern."""
    matching = re.compile(pattern)

    def check(value: str) -> str:
        if value in names or (len(value) <= 100 and matching.fullmatch(value)):
            return value
        raise ValueError(f"one of {', '.join(names)}, or a name matching {pattern}")

    schema = {"anyOf": [{"type": "string", "enum": list(names)}, {"type": "string", "pattern": pattern}]}
    return Annotated[str, AfterValidator(check), WithJsonSchema(schema)]


def _unreachable() -> Any:
    raise RuntimeError("an operator the property does not take")


def _fail() -> Any:
    raise ValueError


def _text(value: Any, at: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT or "\x00" in value:
        raise InvalidInput(at, f"text of 1 to {MAX_TEXT} characters")
    return value


# A decimal string as every request writes amounts (tessera_shared.decimals): sign, 16 integer
# digits, 4 decimals, no exponent or leading zeros.
_DECIMAL_TEXT = re.compile(decimal_pattern(20, 4, "any"))


def _decimal(value: Any, at: str, *, json_numbers: bool = False) -> Decimal:
    """A decimal string as requests write amounts (a JSON number only where the property takes
    one), at most 16 digits before the point and 4 after."""
    text = value if isinstance(value, str) and _DECIMAL_TEXT.match(value) else None
    if json_numbers and isinstance(value, (int, float)) and not isinstance(value, bool):
        text = str(value)
    if text is not None:
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = Decimal("NaN")
        if number.is_finite() and number.adjusted() < 16 and -number.as_tuple().exponent <= 4:  # type: ignore[operator]
            return number
    expected = "a decimal string or a number" if json_numbers else 'a decimal string, e.g. "1000.50"'
    raise InvalidInput(at, f"{expected} (at most 4 decimals)")


def _datetime(value: Any, at: str) -> datetime:
    if isinstance(value, str):
        try:
            if len(value) == 10:
                return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None and 1970 <= parsed.year < 3000:
                return parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    raise InvalidInput(at, "an ISO 8601 date-time with a zone, e.g. 2026-03-31T12:00:00Z")


# The comparison operators, each built alone (building the six and keeping one cost ~5x per filter).
_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": lambda column, value: column == value,
    "neq": lambda column, value: column != value,
    "lt": lambda column, value: column < value,
    "lte": lambda column, value: column <= value,
    "gt": lambda column, value: column > value,
    "gte": lambda column, value: column >= value,
}


def order_of(search: Searchable, body: Any) -> tuple[tuple[Any, ...], bool]:
    """The keyset order of a request: its sort property (if any), then the id; descending or not."""
    if not body.sorts:
        return (search.id_column,), False
    sort = body.sorts[0]
    column = search.properties[sort.property].column if sort.property != "id" else search.id_column
    order = (column,) if column is search.id_column else (column, search.id_column)
    return order, sort.direction == "desc"


def _numeric(expr: Any) -> Any:
    """SQLite keeps Money as text: compare and order it as a number there."""
    return cast(expr, Float)


async def run_search(
    session: Any, search: Searchable, stmt: Select[Any], body: Any, *, rows: bool = False
) -> tuple[list[Any], str | None]:
    """One page of ``stmt`` (the list's own statement, owner rules applied) narrowed by ``body``,
    in keyset order (the sort key, then the id) from ``after`` on. ``rows``: ``stmt`` selects
    columns (the sortable ones under their keys) and the page is its rows, as ``paginate`` gives them."""
    sqlite = dialect_name(session) == "sqlite"
    scope = search_scope(search, body)
    condition = search.where(body, numeric=_numeric if sqlite else None)
    if condition is not None:
        stmt = stmt.where(condition)
    if body.sorts and body.sorts[0].property != "id":
        name = body.sorts[0].property
        prop = search.properties.get(name)
        if prop is None or not prop.sortable:
            sortable = ", ".join(n for n, p in search.properties.items() if p.sortable)
            raise InvalidInput(
                "sorts.0.property",
                f"{name!r} does not sort here (sortable: {sortable}; custom fields but multi_enum and archived ones)",
                kind="enum",
            )
        if prop.nullable:
            return await _nulls_last_page(session, search, prop, stmt, body, sqlite, rows, scope)
    order, descending = order_of(search, body)
    if not sqlite or not any(_is_decimal(search, c) for c in order):
        params = PageParams(limit=body.limit, cursor=body.after, scope=scope)
        try:
            return await paginate(session, stmt, params, order, descending=descending, rows=rows)
        except InvalidInput:  # the cursor, which the search takes as ``after``
            raise InvalidInput("after", "not a cursor of this search (the last page's next_cursor)") from None
    # SQLite and a decimal sort key: the same keyset, on the key read as a number.
    keys = [_numeric(c) if _is_decimal(search, c) else c for c in order]
    if body.after is not None:
        try:
            values = decode_cursor(body.after, order, scope)
        except InvalidInput:
            raise InvalidInput("after", "not a cursor of this search (the last page's next_cursor)") from None
        bounds = [
            _numeric(literal(v, type_=c.type)) if _is_decimal(search, c) else literal(v, type_=c.type)
            for v, c in zip(values, order, strict=True)
        ]
        clauses = []
        for i, key in enumerate(keys):
            equal = [keys[j] == bounds[j] for j in range(i)]
            clauses.append(and_(*equal, key < bounds[i] if descending else key > bounds[i]))
        stmt = stmt.where(or_(*clauses))
    ordering = [k.desc() for k in keys] if descending else keys
    result = await session.execute(stmt.order_by(*ordering).limit(body.limit + 1))
    page = list(result.all() if rows else result.scalars())
    next_cursor = None
    if len(page) > body.limit:
        page = page[: body.limit]
        next_cursor = encode_cursor([_cursor_value(getattr(page[-1], c.key)) for c in order], scope)
    return page, next_cursor


def search_scope(search: Searchable, body: Any) -> bytes:
    """What a search's cursors are bound to: the resource and the search itself (its filters,
    sorts and query), not the page size. A cursor brought to another search (a query dropped, a
    filter changed) would start that search at a position it never reached: it is a 422 naming
    ``after`` instead."""
    return cursor_scope(str(search.id_column), body.model_dump(mode="json", exclude={"limit", "after"}))


async def _nulls_last_page(
    session: Any,
    search: Searchable,
    prop: Prop,
    stmt: Select[Any],
    body: Any,
    sqlite: bool,
    rows: bool,
    scope: bytes,
) -> tuple[list[Any], str | None]:
    """A page sorted by a property some records lack (a custom field): the records with a value
    in the key's order, then those without it by id, in both directions (NULLs last).

    Two keyset ranges, each one index range on PostgreSQL (the ``(key, id)`` btree the custom
    field's index is, read forwards or backwards): ``key IS NOT NULL`` from the cursor on, then,
    when that range runs out within the page, ``key IS NULL`` by id. The cursor is ``[value, id]``
    of the page's last record, ``[null, id]`` once the page ended among the records without one."""
    key: Any = _numeric(prop.column) if sqlite and prop.kind == "decimal" else prop.column
    ident = search.id_column
    descending = body.sorts[0].direction == "desc"
    limit = body.limit
    value: Any = None
    after_id: Any = None
    if body.after is not None:
        try:
            value, after_id = decode_cursor(body.after, [Decimal if prop.kind == "decimal" else key, ident], scope)
        except InvalidInput:
            raise InvalidInput("after", "not a cursor of this search (the last page's next_cursor)") from None
    found: list[Any] = []
    if body.after is None or value is not None:
        valued = stmt.add_columns(key).where(key.is_not(None))
        if body.after is not None:
            bound = literal(float(value) if sqlite and prop.kind == "decimal" else value, type_=key.type)
            beyond = key < bound if descending else key > bound
            same = and_(key == bound, ident < after_id if descending else ident > after_id)
            # The redundant bound on the key keeps the scan one index range.
            valued = valued.where(key <= bound if descending else key >= bound, or_(beyond, same))
        ordering = [key.desc(), ident.desc()] if descending else [key, ident]
        found = list((await session.execute(valued.order_by(*ordering).limit(limit + 1))).all())
    if len(found) <= limit:
        missing = stmt.add_columns(key).where(key.is_(None))
        if body.after is not None and value is None:
            missing = missing.where(ident < after_id if descending else ident > after_id)
        missing = missing.order_by(ident.desc() if descending else ident).limit(limit + 1 - len(found))
        found += list((await session.execute(missing)).all())
    next_cursor = None
    if len(found) > limit:
        found = found[:limit]
        # The record (its row without the key added last, or its first column's object) and the key.
        record, last = (found[-1], found[-1][-1]) if rows else (found[-1][0], found[-1][1])
        next_cursor = encode_cursor([_cursor_value(last), _cursor_value(getattr(record, ident.key))], scope)
    return [r[:-1] for r in found] if rows else [r[0] for r in found], next_cursor


def _is_decimal(search: Searchable, column: Any) -> bool:
    return any(p.column is column and p.kind == "decimal" for p in search.properties.values())


def enum_values(annotation: Any) -> tuple[str, ...]:
    """The values of a ``Literal`` or ``StrEnum`` annotation (optional or not): a property's enum
    taken from the schema that already names it, so the two cannot drift apart."""
    found: list[str] = []
    for arg in typing.get_args(annotation) or (annotation,):
        if isinstance(arg, str):
            found.append(arg)
        elif isinstance(arg, type) and issubclass(arg, enum.Enum):
            found += [str(m.value) for m in arg]
        elif typing.get_origin(arg) is Literal:
            found += [str(v) for v in typing.get_args(arg)]
    return tuple(found)
