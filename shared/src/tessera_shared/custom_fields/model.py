"""Definitions and the validation of values (pure: no database).

A definition is ``{id: "<entity>.<key>", entity, key, label, type, options, required, unique,
personal, description, archived_at, created_at, updated_at, version}``. Values travel as JSON:

- ``text``: a string (1..2000 characters); ``user``: a username (1..200 characters), one of the
  CRM's user accounts when the service knows them (``tessera_shared.users``; else any name);
- ``number``: a JSON number or a decimal string, at most 15 digits before and 4 after the point,
  kept as a JSON number (an integer when it is one);
- ``money``: ``{"amount": "12.30", "currency": "EUR"}`` rounded to the currency's minor units,
  the amount kept as a decimal string;
- ``date``: ``"YYYY-MM-DD"``; ``boolean``: true or false;
- ``enum``: one of the options' values; ``multi_enum``: a list of distinct options' values.

``validate_values`` answers every refusal at once as a 422 naming ``custom_fields.<key>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from tessera_shared.errors import InvalidInput, field_error
from tessera_shared.events.contracts.custom_fields import CUSTOM_FIELD_OWNERS, CustomFieldEntity, CustomFieldType
from tessera_shared.money import fits, quantize, too_large

if TYPE_CHECKING:
    from tessera_shared.users import KnownUsers

FIELD_TYPES: tuple[str, ...] = ("text", "number", "money", "date", "boolean", "enum", "multi_enum", "user")
ENTITIES: tuple[str, ...] = tuple(CUSTOM_FIELD_OWNERS)
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
ID_PATTERN = r"^(customer|contact|deal|lead|ticket)\.[a-z][a-z0-9_]{0,39}$"
MAX_TEXT = 2000
MAX_USER = 200
MAX_OPTIONS = 200
# The records' JSON key: what requests, responses, events and exports call the values.
FIELD_NAME = "custom_fields"

Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
OptionValue = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00]+$")]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class OptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: OptionValue
    label: Label


class DefinitionIn(BaseModel):
    """``POST /v1/custom-fields``: the key and the type never change afterwards."""

    model_config = ConfigDict(extra="forbid")

    entity: CustomFieldEntity
    key: Key = Field(description="snake_case, unique per entity, immutable")
    label: Label
    type: CustomFieldType
    options: list[OptionIn] = Field(
        default_factory=list, max_length=MAX_OPTIONS, description="enum and multi_enum only"
    )
    required: StrictBool = False
    unique: StrictBool = False
    personal: StrictBool = Field(default=False, description="erased with the record's personal data")
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None


class DefinitionPatch(BaseModel):
    """``PATCH /v1/custom-fields/{id}``: options may be added or renamed (a value, once given,
    stays); ``archived: true`` archives (writes refuse the key, reads keep the values)."""

    model_config = ConfigDict(extra="forbid")

    label: Label | None = None
    options: list[OptionIn] | None = Field(default=None, max_length=MAX_OPTIONS)
    required: StrictBool | None = None
    unique: StrictBool | None = None
    personal: StrictBool | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    archived: StrictBool | None = None
    # Refused with a 422 naming them: they never change.
    type: str | None = Field(default=None, description="immutable: any value is refused")
    key: str | None = Field(default=None, description="immutable: any value is refused")
    entity: str | None = Field(default=None, description="immutable: any value is refused")


class OptionOut(BaseModel):
    value: str
    label: str


class DefinitionOut(BaseModel):
    id: str = Field(description="`<entity>.<key>`")
    entity: CustomFieldEntity
    key: str
    label: str
    type: CustomFieldType
    options: list[OptionOut]
    required: bool
    unique: bool
    personal: bool
    description: str | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class DefinitionList(BaseModel):
    items: list[DefinitionOut]


@dataclass(frozen=True)
class Definition:
    """One definition as the services use it (a row of ``custom_field_definitions``)."""

    entity: str
    key: str
    label: str
    type: str
    options: tuple[tuple[str, str], ...] = ()
    required: bool = False
    unique: bool = False
    personal: bool = False
    description: str | None = None
    archived_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.entity}.{self.key}"

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(v for v, _ in self.options)

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    def out(self) -> DefinitionOut:
        return DefinitionOut(
            id=self.id,
            entity=self.entity,
            key=self.key,
            label=self.label,
            type=self.type,
            options=[OptionOut(value=v, label=lbl) for v, lbl in self.options],
            required=self.required,
            unique=self.unique,
            personal=self.personal,
            description=self.description,
            archived_at=self.archived_at,
            created_at=self.created_at,
            updated_at=self.updated_at,
            version=self.version,
        )


def at(key: str) -> str:
    """The field a 422 names for a value: ``custom_fields.<key>``."""
    return f"{FIELD_NAME}.{key}"


class ValueRefused(ValueError):
    pass


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueRefused("a number (or a decimal string)")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueRefused("a number (or a decimal string)") from None
    if not number.is_finite():
        raise ValueRefused("a finite number")
    return number


def _number(value: Any) -> int | float:
    number = _decimal(value)
    if number != 0 and (number.adjusted() >= 15 or -number.normalize().as_tuple().exponent > 4):  # type: ignore[operator]
        raise ValueRefused("at most 15 digits before the point and 4 after it")
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def _money(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or set(value) != {"amount", "currency"}:
        raise ValueRefused('{"amount": "12.30", "currency": "EUR"}')
    currency = value["currency"]
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise ValueRefused("currency: an ISO 4217 code, e.g. EUR")
    amount = _decimal(value["amount"])
    if not fits(amount, currency):
        raise ValueRefused(too_large(currency))
    rounded = quantize(amount.quantize(Decimal("0.0001"), ROUND_HALF_EVEN), currency)
    return {"amount": str(rounded), "currency": currency}


def _date(value: Any) -> str:
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise ValueRefused("an ISO 8601 date, YYYY-MM-DD")


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit or "\x00" in value:
        raise ValueRefused(f"text of 1 to {limit} characters")
    return value


def coerce(definition: Definition, value: Any, users: KnownUsers | None = None) -> Any:
    """``value`` as ``definition`` stores it, or ``ValueRefused`` saying what it takes. A
    ``user`` value must be one of ``users`` when they are loaded (any name otherwise)."""
    kind = definition.type
    if kind == "text":
        return _text(value, MAX_TEXT)
    if kind == "user":
        name = _text(value, MAX_USER).strip()
        if users is not None and users.refuses(name):
            raise ValueRefused("a username of this CRM")
        return name
    if kind == "number":
        return _number(value)
    if kind == "money":
        return _money(value)
    if kind == "date":
        return _date(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueRefused("true or false")
        return value
    if kind == "enum":
        if not isinstance(value, str) or value not in definition.values:
            raise ValueRefused(f"one of {', '.join(definition.values)}")
        return value
    if kind == "multi_enum":
        if not isinstance(value, list) or any(not isinstance(v, str) for v in value):
            raise ValueRefused(f"a list of values among {', '.join(definition.values)}")
        outside = [v for v in value if v not in definition.values]
        if outside:
            raise ValueRefused(f"{', '.join(outside)} not among {', '.join(definition.values)}")
        return list(dict.fromkeys(value))
    raise ValueRefused(f"unknown type {kind}")


class CellText(str):
    """A value read from a CSV cell (``custom_fields.<key>`` columns of the bulk imports): text
    that ``from_text`` turns into the field's JSON value before it is validated as any other."""


def from_text(definition: Definition, text: str) -> Any:
    """A CSV cell as the value ``definition`` takes in JSON: ``true``/``false`` for a boolean,
    ``"12.30 EUR"`` for money, ``;``-separated values for a multi_enum, the text itself for the
    others (a number's text is a decimal string). What does not fit stays text, and is refused
    by ``validate_values`` naming the field."""
    raw = str(text).strip()
    if definition.type == "boolean":
        return {"true": True, "false": False}.get(raw.lower(), raw)
    if definition.type == "money":
        amount, _, currency = raw.partition(" ")
        return {"amount": amount, "currency": currency.strip()} if currency.strip() else raw
    if definition.type == "multi_enum":
        return [v.strip() for v in raw.split(";") if v.strip()]
    return raw


def validate_values(
    definitions: Mapping[str, Definition],
    given: Mapping[str, Any] | None,
    current: Mapping[str, Any] | None = None,
    *,
    creating: bool,
    entity: str = "record",
    users: KnownUsers | None = None,
) -> dict[str, Any]:
    """The record's values after ``given`` (a create's whole set, or a PATCH merged into
    ``current``; null clears a key), or one 422 naming every refused ``custom_fields.<key>``:
    an unknown or archived key, a value of the wrong type or outside the options, a required
    value missing on create or cleared, a ``user`` value that is none of ``users`` (when
    known). Uniqueness needs the database (the service checks it)."""
    if given is not None and not isinstance(given, Mapping):
        raise InvalidInput(FIELD_NAME, "an object of custom field values, {key: value}")
    result = dict(current or {})
    errors: list[dict[str, str]] = []
    for key, value in (given or {}).items():
        definition = definitions.get(key)
        if definition is not None and isinstance(value, CellText):
            value = from_text(definition, value)
        if definition is None:
            errors.append(
                field_error(at(key)[:200], f"no custom field {key[:100]!r} on {entity}s", kind="extra_forbidden")
            )
            continue
        if definition.archived:
            errors.append(field_error(at(key), f"custom field {key!r} is archived"))
            continue
        if value is None:
            if definition.required:
                errors.append(field_error(at(key), "required: may not be cleared", kind="missing"))
            result.pop(key, None)
            continue
        try:
            result[key] = coerce(definition, value, users)
        except ValueRefused as exc:
            errors.append(field_error(at(key), str(exc)))
    if creating:
        for key, definition in definitions.items():
            if definition.required and not definition.archived and key not in result and key not in (given or {}):
                errors.append(field_error(at(key), "required", kind="missing"))
    if errors:
        raise InvalidInput.of(errors)
    return result


def erased(definitions: Mapping[str, Definition], values: Mapping[str, Any] | None) -> dict[str, Any]:
    """``values`` without the personal fields' (what a record keeps once its personal data is erased)."""
    return {k: v for k, v in (values or {}).items() if not (k in definitions and definitions[k].personal)}


ValueKind = Literal["text", "number", "date", "boolean", "multi"]


def value_kind(field_type: str) -> ValueKind:
    """How a type's values compare in SQL (what its index is)."""
    if field_type in ("number", "money"):
        return "number"
    if field_type == "date":
        return "date"
    if field_type == "boolean":
        return "boolean"
    if field_type == "multi_enum":
        return "multi"
    return "text"


# A record's values in a request or a response: documented once for every schema that has them.
CustomFieldValues = Annotated[
    dict[str, Any],
    Field(
        description="Typed custom field values by key, as the entity's definitions (GET /v1/custom-fields) "
        "say: text, number, money {amount, currency}, date YYYY-MM-DD, boolean, enum value, list of "
        "multi_enum values, user name. On PATCH the keys given are merged; null clears one.",
        json_schema_extra={"additionalProperties": True},
        max_length=200,
    ),
]
