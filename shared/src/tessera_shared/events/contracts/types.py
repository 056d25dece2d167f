"""Field types shared by the event contracts."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, PlainSerializer

# Money travels as a decimal string beside an ISO 4217 code, never as a float.
Amount = Annotated[Decimal, Field(max_digits=20, decimal_places=4), PlainSerializer(lambda v: str(v), return_type=str)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Rate = Annotated[Decimal, Field(ge=0, le=100, max_digits=7, decimal_places=4), PlainSerializer(lambda v: str(v), return_type=str)]
Quantity = Annotated[Decimal, Field(gt=0, max_digits=16, decimal_places=4), PlainSerializer(lambda v: str(v), return_type=str)]
