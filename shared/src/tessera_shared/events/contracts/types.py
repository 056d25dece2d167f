"""Field types shared by the event contracts.

They are the HTTP API's types (``tessera_shared.decimals``): a decimal travels as a string
whose published pattern carries every limit the consuming code checks, so a partner's
validator and Tessera's models accept and refuse the same values.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from tessera_shared.decimals import Amount, DecimalString, Percent, Quantity

# Marks a field that identifies or describes a person (a name, an e-mail address, a phone number, a
# job title, free text that may hold any of them): ``email: Annotated[str | None, Personal] = None``.
# Put it on the field itself, not inside a union (there pydantic keeps it off the field). The
# published JSON Schema carries ``"x-personal": true`` on the property, and
# ``tessera_shared.events.redaction.redact_personal`` nulls these values for readers who may not see
# personal data (partner webhooks). Staff user names (owner_id, actor, *_by) are not marked: the
# erasure rules keep them too (docs/domain.md §10.3).
PERSONAL_KEY = "x-personal"
Personal = Field(json_schema_extra={PERSONAL_KEY: True})

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


class Changes(BaseModel):
    """What one write changed, in an ``*.updated`` event: the fields named are those that changed,
    with their new values (null: cleared); a field not named did not change. Serialised with the
    named fields only, so "cleared" and "unchanged" stay apart on the wire."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    # No return annotation: with one, the published JSON Schema would be that type's, not the fields'.
    @model_serializer(mode="wrap")
    def _named_only(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        data = handler(self)
        return {k: v for k, v in data.items() if k in self.model_fields_set}

    def names(self) -> list[str]:
        """The changed fields, in declaration order."""
        return [name for name in type(self).model_fields if name in self.model_fields_set]


__all__ = [
    "PERSONAL_KEY",
    "Amount",
    "Changes",
    "Currency",
    "ExchangeRate",
    "NonNegativeAmount",
    "Personal",
    "PositiveAmount",
    "Quantity",
    "Rate",
]
