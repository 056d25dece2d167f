"""Money helpers of the sales service; minor units and rounding are the shared rule's."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import event
from sqlalchemy.orm.attributes import set_committed_value

from tessera_shared.money import fits, from_minor, minor_unit, quantize, to_minor, too_large

__all__ = ["check_minor_units", "from_minor", "minor_exponent", "normalise_on_load", "quantize", "tidy", "to_minor"]
minor_exponent = minor_unit


def check_minor_units(amount: Decimal | None, currency: str, field: str) -> None:
    """Refuse more decimals than the currency has (10.005 EUR): the caller must round, not us.

    A ValueError, so that schema validators and services alike can name the field."""
    if amount is not None and quantize(amount, currency) != amount:
        raise ValueError(f"{field} has more decimal places than {currency} allows")
    if amount is not None and not fits(amount, currency):
        raise ValueError(f"{field}: {too_large(currency)}")


def tidy(value: Decimal, places: int = 2) -> Decimal:
    """Drop trailing zeros past ``places`` digits: 2.5000 -> 2.50, 2.1250 -> 2.125 (and 2.0000 -> 2 at 0)."""
    normal = value.normalize()
    if normal.as_tuple().exponent > -places:  # type: ignore[operator]
        return value.quantize(Decimal(1).scaleb(-places))
    return normal


def normalise_on_load(model: type, *, money: dict[str, str | None] | None = None, plain: tuple[str, ...] = ()) -> None:
    """Read Money columns back as the API shows them on both databases (PostgreSQL pads to 4 places).

    ``money`` maps a field to the field holding its currency (rounded to its minor unit) or None
    (at least 2 places); ``plain`` fields lose trailing zeros (quantities, percentages).
    """

    @event.listens_for(model, "load")
    def _tidy(target: object, _context: object) -> None:
        for field, currency_field in (money or {}).items():
            value = getattr(target, field)
            if value is not None:
                currency = getattr(target, currency_field) if currency_field else None
                set_committed_value(target, field, quantize(value, currency) if currency else tidy(value))
        for field in plain:
            value = getattr(target, field)
            if value is not None:
                set_committed_value(target, field, tidy(value, 0))
