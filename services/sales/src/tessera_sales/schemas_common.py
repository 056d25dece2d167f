"""Field types shared by the sales API schemas."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import PlainSerializer, StringConstraints

from tessera_sales.money import quantize
from tessera_shared.decimals import MoneyIn as SharedMoneyIn
from tessera_shared.http.errors import Problem
from tessera_shared.http.inputs import Trimmed
from tessera_shared.money import fits, too_large

# A decimal string whose schema pattern carries its limits (shared with billing and the events).
MoneyIn = SharedMoneyIn
MoneyOut = Annotated[Decimal, PlainSerializer(lambda v: str(v), return_type=str)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Text200 = Trimmed(min_length=1, max_length=200)
Text500 = Trimmed(min_length=1, max_length=500)
OwnerId = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def check_minor_units(amount: Decimal | None, currency: str, field: str) -> None:
    """Refuse more decimals than the currency has (10.005 EUR): the caller must round, not us."""
    if amount is not None and quantize(amount, currency) != amount:
        raise ValueError(f"{field} has more decimal places than {currency} allows")
    if amount is not None and not fits(amount, currency):
        raise ValueError(f"{field}: {too_large(currency)}")


def field_problem(field: str, message: str, status: int = 422) -> Exception:
    """A 422 naming the field, for checks that need the database or the stored record."""
    return Problem(
        status,
        f"invalid input: {field}: {message}",
        slug="validation-error",
        errors=[{"field": field, "location": "body", "message": message, "type": "value_error"}],
    )
