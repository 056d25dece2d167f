"""Field types shared by the event contracts."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, PlainSerializer, WithJsonSchema

_DECIMAL = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "description": "exact decimal, as a string"}


def _decimal(**bounds: object) -> object:
    return Annotated[
        Decimal,
        Field(**bounds),  # type: ignore[arg-type]
        PlainSerializer(lambda v: format(v, "f"), return_type=str),
        WithJsonSchema(_DECIMAL, mode="serialization"),
    ]


# Money travels as a decimal string beside an ISO 4217 code, never as a float.
Amount = _decimal(max_digits=20, decimal_places=4)
Rate = _decimal(ge=0, le=100, max_digits=7, decimal_places=4)
Quantity = _decimal(gt=0, max_digits=16, decimal_places=4)
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
