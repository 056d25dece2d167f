"""Field types shared by the event contracts.

They are the HTTP API's types (``tessera_shared.decimals``): a decimal travels as a string
whose published pattern carries every limit the consuming code checks, so a partner's
validator and Tessera's models accept and refuse the same values.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tessera_shared.decimals import Amount, Percent, Quantity

# Money travels as a decimal string beside an ISO 4217 code, never as a float.
Rate = Percent
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]

__all__ = ["Amount", "Currency", "Quantity", "Rate"]
