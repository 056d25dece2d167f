"""A service's custom fields: its definitions (cached), the values of its records, filters.

One ``CustomFields`` per service, built once beside its tables::

    CUSTOM_FIELDS = CustomFields(
        definitions_table(metadata),
        producer="sales",
        entities={"deal": Bound(col(Deal.custom_fields), col(Deal.id)), "lead": Bound(...)},
    )
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tessera_shared.auth import Principal
from tessera_shared.custom_fields import sql
from tessera_shared.custom_fields.model import (
    FIELD_NAME,
    Definition,
    DefinitionIn,
    DefinitionPatch,
    at,
    erased,
    validate_values,
)
from tessera_shared.db import dialect_name, read_session, utcnow
from tessera_shared.db.read_cache import ReadCache
from tessera_shared.errors import Conflict, InvalidInput, NotFound, field_error
from tessera_shared.events.contracts.custom_fields import (
    CustomFieldCreated,
    CustomFieldDefinitionData,
    CustomFieldOption,
    CustomFieldUpdated,
)
from tessera_shared.jobs import Job
from tessera_shared.outbox import publish
from tessera_shared.search import Prop, Searchable
from tessera_shared.users import known_users_of


@dataclass(frozen=True)
class Bound:
    """Where an entity's values live: its records' ``custom_fields`` column and id column."""

    column: Any
    id_column: Any

    @property
    def table(self) -> str:
        return str(self.column.table.name)


def _definition(row: Any) -> Definition:
    return Definition(
        entity=row["entity"],
        key=row["key"],
        label=row["label"],
        type=row["type"],
        options=tuple((o["value"], o["label"]) for o in row["options"] or ()),
        required=bool(row["required"]),
        unique=bool(row["is_unique"]),
        personal=bool(row["personal"]),
        description=row["description"],
        archived_at=row["archived_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
    )


class CustomFields:
    def __init__(self, table: Table, *, producer: str, entities: Mapping[str, Bound], ttl_seconds: float = 5.0) -> None:
        self.table = table
        self.producer = producer
        self.entities = dict(entities)
        self._cache: ReadCache[dict[str, Definition]] = ReadCache(ttl_seconds)

    # -- definitions --------------------------------------------------------------------------

    def bound(self, entity: str) -> Bound:
        try:
            return self.entities[entity]
        except KeyError:
            raise InvalidInput(
                "entity", f"this service keeps the custom fields of {', '.join(self.entities)}"
            ) from None

    async def definitions(self, session: AsyncSession, entity: str) -> dict[str, Definition]:
        """The entity's definitions by key (archived ones too), cached for ``ttl_seconds``."""

        async def load() -> dict[str, Definition]:
            rows = await session.execute(
                select(self.table).where(self.table.c.entity == entity).order_by(self.table.c.created_at)
            )
            return {r["key"]: _definition(r) for r in rows.mappings()}

        return await self._cache.get(session, entity, load)

    async def list_definitions(self, session: AsyncSession, entity: str | None = None) -> list[Definition]:
        entities = [entity] if entity is not None else list(self.entities)
        if entity is not None:
            self.bound(entity)
        out: list[Definition] = []
        for name in entities:
            out += list((await self.definitions(session, name)).values())
        return out

    async def get(self, session: AsyncSession, definition_id: str, *, for_update: bool = False) -> Definition:
        entity, _, key = definition_id.partition(".")
        if entity not in self.entities or not key:
            raise NotFound("custom field", definition_id)
        stmt = select(self.table).where(self.table.c.entity == entity, self.table.c.key == key)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await session.execute(stmt)).mappings().one_or_none()
        if row is None:
            raise NotFound("custom field", definition_id)
        return _definition(row)

    async def create(self, session: AsyncSession, body: DefinitionIn, principal: Principal) -> Definition:
        """A new definition (admins): 409 ``custom-field-exists`` for a key the entity has, 422
        naming ``options`` when an enum has none (or a non-enum has some)."""
        self.bound(body.entity)
        _check_options(body.type, [o.value for o in body.options])
        if body.unique and body.type in ("multi_enum", "boolean"):
            raise InvalidInput("unique", f"a {body.type} field cannot be unique")
        exists = await session.scalar(
            select(func.count()).where(self.table.c.entity == body.entity, self.table.c.key == body.key)
        )
        if exists:
            raise Conflict(f"custom field {body.entity}.{body.key} exists", kind="custom-field-exists")
        now = utcnow()
        row = {
            "entity": body.entity,
            "key": body.key,
            "label": body.label,
            "type": body.type,
            "options": [{"value": o.value, "label": o.label} for o in body.options],
            "required": body.required,
            "is_unique": body.unique,
            "personal": body.personal,
            "description": body.description,
            "archived_at": None,
            "created_by": principal.subject,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        if dialect_name(session) == "postgresql":
            # Two replicas creating the same key at once: the second waits, then sees it.
            await session.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"cf:{body.entity}.{body.key}"}
            )
            if await session.scalar(
                select(func.count()).where(self.table.c.entity == body.entity, self.table.c.key == body.key)
            ):
                raise Conflict(f"custom field {body.entity}.{body.key} exists", kind="custom-field-exists")
        await session.execute(insert(self.table).values(**row))
        definition = _definition(row)
        await self._announce(session, CustomFieldCreated, definition, principal)
        self._cache.forget_on_commit(session)
        return definition

    async def update(
        self, session: AsyncSession, definition_id: str, body: DefinitionPatch, principal: Principal
    ) -> Definition:
        """Label, options (added or renamed: a value once offered stays), required, unique,
        personal, description, archived; ``type``, ``key`` and ``entity`` are refused (422)."""
        given = body.model_fields_set
        immutable = [f for f in ("type", "key", "entity") if f in given]
        if immutable:
            raise InvalidInput.of(field_error(f, "immutable: define a new field instead") for f in immutable)
        for name in ("label", "required", "unique", "personal", "options", "archived"):
            if name in given and getattr(body, name) is None:
                raise InvalidInput(name, "may not be null")
        current = await self.get(session, definition_id, for_update=True)
        changes: dict[str, Any] = {}
        if body.label is not None:
            changes["label"] = body.label
        if body.options is not None:
            values = [o.value for o in body.options]
            _check_options(current.type, values)
            dropped = [v for v in current.values if v not in values]
            if dropped:
                raise InvalidInput("options", f"options may be added or renamed, not removed: {', '.join(dropped)}")
            changes["options"] = [{"value": o.value, "label": o.label} for o in body.options]
        if body.required is not None:
            changes["required"] = body.required
        if body.unique is not None:
            if body.unique and current.type in ("multi_enum", "boolean"):
                raise InvalidInput("unique", f"a {current.type} field cannot be unique")
            if body.unique and not current.unique:
                await self._check_no_duplicates(session, current)
            changes["is_unique"] = body.unique
        if body.personal is not None:
            changes["personal"] = body.personal
        if "description" in given:
            changes["description"] = body.description
        if body.archived is not None:
            changes["archived_at"] = (current.archived_at or utcnow()) if body.archived else None
        if not changes:
            return current
        changes["updated_at"] = utcnow()
        changes["version"] = current.version + 1
        await session.execute(
            update(self.table)
            .where(self.table.c.entity == current.entity, self.table.c.key == current.key)
            .values(**changes)
        )
        updated = await self.get(session, definition_id)
        await self._announce(session, CustomFieldUpdated, updated, principal)
        self._cache.forget_on_commit(session)
        return updated

    async def _check_no_duplicates(self, session: AsyncSession, definition: Definition) -> None:
        bound = self.bound(definition.entity)
        expr = sql.value_expr(bound.column, definition, dialect_name(session))
        dup = await session.scalar(
            select(expr).where(expr.is_not(None)).group_by(expr).having(func.count() > 1).limit(1)
        )
        if dup is not None:
            raise Conflict(
                f"{definition.entity}s share the value {dup!r} of {definition.key}: it cannot be unique",
                kind="custom-field-not-unique",
            )

    async def _announce(
        self, session: AsyncSession, kind: type[CustomFieldDefinitionData], d: Definition, principal: Principal
    ) -> None:
        model: type[CustomFieldDefinitionData] = kind.for_producer(self.producer)
        event = model(
            id=d.id,
            entity=d.entity,
            key=d.key,
            label=d.label,
            type=d.type,
            options=[CustomFieldOption(value=v, label=lbl) for v, lbl in d.options],
            required=d.required,
            unique=d.unique,
            personal=d.personal,
            description=d.description,
            archived_at=d.archived_at,
            version=d.version,
            updated_by=principal.subject,
            updated_at=d.updated_at or utcnow(),
        )
        await publish(session, event, subject=d.id, key=d.id)

    async def ensure_indexes(self, engine: AsyncEngine, definitions: Iterable[Definition]) -> list[str]:
        """Build the missing indexes of ``definitions`` (PostgreSQL), outside any transaction."""
        built = []
        for d in definitions:
            bound = self.entities.get(d.entity)
            if bound is not None and not d.archived:
                name = await sql.ensure_index(engine, bound.table, bound.id_column.name, d)
                if name is not None:
                    built.append(name)
        return built

    def index_job(self, service: str, interval: float = 300.0) -> Job:
        """A scheduled job (once across replicas) that builds the index of every live field
        still missing one: a replica that stopped between a definition's commit and its index,
        or an index a crash left invalid. Cheap when all are there (one catalog query each)."""

        async def run(sessions: async_sessionmaker[AsyncSession], now: datetime) -> object:
            async with read_session(sessions) as session:
                definitions = await self.list_definitions(session)
            return await self.ensure_indexes(sessions.kw["bind"], definitions)

        return Job(f"{service}-custom-field-indexes", interval, run)

    # -- values -------------------------------------------------------------------------------

    async def values(
        self,
        session: AsyncSession,
        entity: str,
        given: Mapping[str, Any] | None,
        current: Mapping[str, Any] | None = None,
        *,
        creating: bool,
        record_id: Any = None,
    ) -> dict[str, Any]:
        """The record's new ``custom_fields`` (a create's, or ``current`` with a PATCH's merged
        in; null clears), or one 422 naming each refused ``custom_fields.<key>`` (unique values
        taken by another record included)."""
        definitions = await self.definitions(session, entity)
        if given is None and not creating:
            return dict(current or {})
        result = validate_values(
            definitions, given, current, creating=creating, entity=entity, users=known_users_of(session)
        )
        await self._check_unique(session, entity, definitions, result, given or {}, record_id)
        return result

    async def _check_unique(
        self,
        session: AsyncSession,
        entity: str,
        definitions: Mapping[str, Definition],
        result: Mapping[str, Any],
        given: Mapping[str, Any],
        record_id: Any,
    ) -> None:
        bound = self.bound(entity)
        dialect = dialect_name(session)
        errors = []
        for key in given:
            definition = definitions[key]
            if not definition.unique or key not in result:
                continue
            value = result[key]
            if dialect == "postgresql":
                # One writer of a value at a time across replicas, until this transaction ends.
                await session.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"cf:{bound.table}.{key}={value}"}
                )
            prop = sql.prop_of(bound.column, definition, dialect)
            probe = value["amount"] if definition.type == "money" else value
            condition = Searchable(resource="Unique", id_column=None, properties={}).condition_of(
                prop, key, "eq", probe if definition.type not in ("number",) else str(probe)
            )
            stmt = select(bound.id_column).where(condition).limit(1)
            if record_id is not None:
                stmt = stmt.where(bound.id_column != record_id)
            if (await session.execute(stmt)).first() is not None:
                errors.append(field_error(at(key), f"another {entity} has this value", kind="unique"))
        if errors:
            raise InvalidInput.of(errors)

    async def erase(self, session: AsyncSession, entity: str, values: Mapping[str, Any] | None) -> dict[str, Any]:
        """``values`` without the personal fields' (call where the service erases personal data)."""
        return erased(await self.definitions(session, entity), values)

    async def personal_keys(self, session: AsyncSession, entity: str) -> list[str]:
        return [k for k, d in (await self.definitions(session, entity)).items() if d.personal]

    # -- reading ------------------------------------------------------------------------------

    async def list_filters(self, session: AsyncSession, entity: str, params: Iterable[tuple[str, str]]) -> list[Any]:
        """The conditions of a list's ``?custom_fields.<key>[op]=v`` parameters (AND them to the
        list's statement; 422 naming each bad one)."""
        items = [(k, v) for k, v in params if k.startswith(f"{FIELD_NAME}.")]
        if not items:
            return []
        bound = self.bound(entity)
        definitions = await self.definitions(session, entity)
        return sql.list_conditions(bound.column, definitions, items, dialect_name(session))

    async def search_props(self, session: AsyncSession, entity: str) -> dict[str, Prop]:
        """``custom_fields.<key>`` of every definition, as search properties."""
        bound = self.bound(entity)
        definitions = (await self.definitions(session, entity)).values()
        return sql.props_of(bound.column, definitions, dialect_name(session))

    async def searchable(self, session: AsyncSession, entity: str, search: Searchable) -> Searchable:
        """``search`` (declared with ``dynamic=PROPERTY_PATTERN``) widened by the entity's fields."""
        return search.with_properties(await self.search_props(session, entity))


def _check_options(field_type: str, values: list[str]) -> None:
    if field_type in ("enum", "multi_enum"):
        if not values:
            raise InvalidInput("options", f"a {field_type} field needs at least one option")
        if len(set(values)) != len(values):
            raise InvalidInput("options", "option values must be distinct")
    elif values:
        raise InvalidInput("options", f"a {field_type} field takes no options")
