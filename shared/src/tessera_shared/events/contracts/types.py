"""Field types shared by the event contracts.

They are the HTTP API's types (``tessera_shared.decimals``): a decimal travels as a string
whose published pattern carries every limit the consuming code checks, so a partner's
validator and Tessera's models accept and refuse the same values.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

from tessera_shared.decimals import Amount, DecimalString, Percent, Quantity

# Money travels as a decimal string beside an ISO 4217 code, never as a float.
Rate = Percent
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
# Units of one currency per unit of another: positive, 10 integer digits and 10 decimals.
ExchangeRate = Annotated[
    Decimal,
    DecimalString(max_digits=20, decimal_places=10, sign="positive", description="exchange rate", example="1.0850"),
]

# Amounts that are never below zero (a price, a deal's or an invoice's amount, a payment): the
# producer guarantees it and the consumer refuses anything else at its door (the DLQ), so a
# negative deal.won never becomes an invoice (docs/domain.md §10.2).
NonNegativeAmount = Annotated[
    Decimal,
    DecimalString(max_digits=20, decimal_places=4, sign="nonnegative", description="exact amount", example="1200.50"),
]
PositiveAmount = Annotated[
    Decimal,
    DecimalString(max_digits=20, decimal_places=4, sign="positive", description="exact amount", example="1200.50"),
]

__all__ = ["Amount", "Currency", "ExchangeRate", "NonNegativeAmount", "PositiveAmount", "Quantity", "Rate"]
