"""Money helpers of the sales service; minor units and rounding are the shared rule's."""

from __future__ import annotations

from decimal import Decimal

from tessera_shared.money import from_minor, minor_unit, quantize, to_minor

__all__ = ["from_minor", "minor_exponent", "normalise_on_load", "quantize", "tidy", "to_minor"]
minor_exponent = minor_unit


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
    from sqlalchemy import event
    from sqlalchemy.orm.attributes import set_committed_value

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
