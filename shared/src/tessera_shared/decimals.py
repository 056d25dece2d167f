"""Exact decimals on the wire: one annotated type for money, quantities and percentages.

Every decimal a Tessera API takes (HTTP request bodies and query parameters) or publishes
(event ``data``) is a JSON **string** such as ``"1234.50"``, never a JSON number: a number
goes through a binary float in most JSON parsers and ``0.1`` is not ``0.1`` there. The type
made by :func:`decimal_string` parses to :class:`~decimal.Decimal` and is described by a JSON
Schema whose ``pattern`` carries every limit the model checks (integer digits, decimal
places, sign, an upper bound of 100 for percentages), so that what a client's or a partner's
validator accepts, Tessera accepts, and the reverse:

- the pattern is the whole rule for strings: the validator matches the very same regular
  expression before it parses (no exponents, no leading zeros, no ``+``, no spaces, no
  ``NaN``), so the published schema and the model cannot drift apart;
- JSON numbers are refused with a 422 naming the field (strict, on purpose: the schema says
  string, a fuzzer or a generated client sending a number must learn it at once, and a float
  such as ``0.1`` can never be silently mis-rounded because it is never taken);
- Python code may still pass a :class:`~decimal.Decimal` (never an ``int`` or ``float``); it
  is held to the same digit limits and bounds;
- out, a value is written with ``format(v, "f")`` and never more decimals than allowed, so
  what Tessera writes matches the pattern it publishes.

No ``format: decimal`` in the schema on purpose: generators map it to big-decimal types that
their JSON libraries write as numbers, which the API refuses.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from annotated_types import GroupedMetadata
from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

Sign = Literal["any", "nonnegative", "positive"]


def decimal_pattern(
    max_digits: int, decimal_places: int, sign: Sign = "nonnegative", le_power_of_ten: int | None = None
) -> str:
    """The regular expression (ECMA 262 and Python alike, no look-around) of such a decimal.

    ``max_digits - decimal_places`` integer digits (pydantic's whole-digit rule), at most
    ``decimal_places`` decimals, no leading zeros; ``le_power_of_ten=k`` bounds it to 10**k.
    """
    whole = max_digits - decimal_places
    if whole < 1 or decimal_places < 0:
        raise ValueError("a decimal needs at least one integer digit")
    frac = rf"(?:\.\d{{1,{decimal_places}}})?" if decimal_places else ""
    integer = rf"(?:0|[1-9]\d{{0,{whole - 1}}})" if whole > 1 else r"\d"
    if le_power_of_ten is not None:
        k = le_power_of_ten
        if sign == "any" or not 1 <= k <= whole:
            raise ValueError("an upper bound needs a non-negative type and fewer digits than allowed")
        below = rf"(?:0|[1-9]\d{{0,{k - 1}}})" if k > 1 else r"\d"
        top = "1" + "0" * k + (rf"(?:\.0{{1,{decimal_places}}})?" if decimal_places else "")
        body = rf"{top}|{below}{frac}"
        if sign == "positive":
            raise ValueError("positive percentages are not needed yet")
        return rf"^(?:{body})$"
    if sign == "any":
        return rf"^-?{integer}{frac}$"
    if sign == "nonnegative":
        return rf"^{integer}{frac}$"
    # positive: not zero, written without look-ahead so every regex engine and generator copes
    nonzero_int = rf"[1-9]\d{{0,{whole - 1}}}" if whole > 1 else "[1-9]"
    alternatives = [rf"{nonzero_int}{frac}"]
    if decimal_places:
        small = "|".join(
            rf"0{{{j}}}[1-9]\d{{0,{decimal_places - 1 - j}}}" if j else rf"[1-9]\d{{0,{decimal_places - 1}}}"
            for j in range(decimal_places)
        )
        alternatives.append(rf"0\.(?:{small})")
    return rf"^(?:{'|'.join(alternatives)})$"


def _parts(
    max_digits: int,
    decimal_places: int,
    sign: Sign,
    le_power_of_ten: int | None,
    description: str,
    example: str | None,
) -> tuple[BeforeValidator, FieldInfo, PlainSerializer, WithJsonSchema]:
    """The parser, the bounds, the serializer and the JSON schema of a decimal string."""
    pattern = decimal_pattern(max_digits, decimal_places, sign, le_power_of_ten)
    regex = re.compile(pattern)
    bounds: dict[str, Any] = {"max_digits": max_digits, "decimal_places": decimal_places}
    if sign == "nonnegative":
        bounds["ge"] = 0
    elif sign == "positive":
        bounds["gt"] = 0
    if le_power_of_ten is not None:
        bounds["le"] = 10**le_power_of_ten
    if le_power_of_ten is not None:
        limit = f"from 0 to {10**le_power_of_ten}, at most {decimal_places} decimals"
    else:
        limit = "" if sign == "any" else "non-negative, " if sign == "nonnegative" else "positive, "
        limit += f"at most {max_digits - decimal_places} integer digits and {decimal_places} decimals"
    schema: dict[str, Any] = {"type": "string", "pattern": pattern, "description": f"{description} ({limit})"}
    if example is not None:
        schema["examples"] = [example]

    def parse(value: Any) -> Any:
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise PydanticCustomError("decimal_string", "must be a finite decimal")
            return value
        if isinstance(value, str):
            if not regex.match(value):
                raise PydanticCustomError(
                    "decimal_string",
                    'must be a decimal string ({limit}) such as "{example}"',
                    {"limit": limit, "example": example or "12.50"},
                )
            return Decimal(value)
        raise PydanticCustomError(
            "decimal_string",
            'must be a decimal string such as "{example}", not a JSON {kind}: numbers are not exact in JSON',
            {"example": example or "12.50", "kind": _json_kind(value)},
        )

    def write(value: Decimal) -> str:
        if value == 0:
            value = abs(value)  # never "-0"
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -decimal_places:
            # Only trailing zeros can be there (the model refused more decimals): drop them.
            with contextlib.suppress(InvalidOperation):
                value = value.quantize(Decimal(1).scaleb(-decimal_places))
        return format(value, "f")

    return (
        BeforeValidator(parse),
        Field(**bounds),
        PlainSerializer(write, return_type=str, when_used="json"),
        WithJsonSchema(schema),
    )


def decimal_string(
    *,
    max_digits: int,
    decimal_places: int,
    sign: Sign = "nonnegative",
    le_power_of_ten: int | None = None,
    description: str = "exact decimal, as a string",
    example: str | None = None,
) -> Any:
    """An ``Annotated[Decimal, ...]`` taking and giving a decimal string (see the module), built at
    runtime: pydantic reads it, mypy cannot (a call is not a type); a type mypy reads as a
    ``Decimal`` is ``Annotated[Decimal, DecimalString(...)]``."""
    parse, bounds, write, schema = _parts(max_digits, decimal_places, sign, le_power_of_ten, description, example)
    return Annotated[Decimal, parse, bounds, write, schema]


@dataclass(frozen=True, slots=True)
class DecimalString(GroupedMetadata):
    """Metadata for ``Annotated[Decimal, DecimalString(max_digits=18, decimal_places=4)]``: the same
    validation, serialization and schema as ``decimal_string`` with the same arguments."""

    max_digits: int
    decimal_places: int
    sign: Sign = "nonnegative"
    le_power_of_ten: int | None = None
    description: str = "exact decimal, as a string"
    example: str | None = None

    def __iter__(self) -> Iterator[object]:
        parse, bounds, write, schema = _parts(
            self.max_digits, self.decimal_places, self.sign, self.le_power_of_ten, self.description, self.example
        )
        yield parse
        yield from bounds.metadata
        yield write
        yield schema


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


# The types every service's request models and the event contracts use.
#: Any amount that travels (events): the Money column's NUMERIC(20, 4), either sign.
Amount = Annotated[
    Decimal, DecimalString(max_digits=20, decimal_places=4, sign="any", description="exact amount", example="1200.50")
]
#: An amount a client sends: 14 integer digits, so that minor units and their sums fit BIGINT.
MoneyIn = Annotated[
    Decimal, DecimalString(max_digits=18, decimal_places=4, description="exact amount", example="1200.50")
]
PositiveMoneyIn = Annotated[
    Decimal,
    DecimalString(max_digits=18, decimal_places=4, sign="positive", description="exact amount", example="1200.50"),
]
#: Quantities of a line: positive, 10 integer digits (quantity x unit price stays in range).
Quantity = Annotated[
    Decimal, DecimalString(max_digits=14, decimal_places=4, sign="positive", description="quantity", example="1")
]
#: Percentages (discounts, tax rates): 0 to 100, four decimals.
Percent = Annotated[
    Decimal, DecimalString(max_digits=7, decimal_places=4, le_power_of_ten=2, description="percentage", example="19")
]
