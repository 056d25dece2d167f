"""Currency minor units (ISO 4217) and exact rounding: pure helpers used by every feature's rules."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

# Currencies whose minor unit is not 2 digits; every other code has cents.
_EXPONENTS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}


def minor_exponent(currency: str) -> int:
    return _EXPONENTS.get(currency, 2)


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, banker's rounding (what accounting systems use)."""
    return amount.quantize(Decimal(1).scaleb(-minor_exponent(currency)), rounding=ROUND_HALF_EVEN)


def to_minor(amount: Decimal, currency: str) -> int:
    """Amount in minor units (cents): exact integer sums in SQL on PostgreSQL and SQLite alike."""
    return int(quantize(amount, currency).scaleb(minor_exponent(currency)))


def from_minor(minor: int | Decimal, currency: str) -> Decimal:
    return quantize(Decimal(minor).scaleb(-minor_exponent(currency)), currency)


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
