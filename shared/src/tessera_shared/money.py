"""Currency minor units (ISO 4217) and the one rounding rule every service uses.

Half-up to the currency's minor unit, per line, as invoices are printed: a deal's amount in
sales and the invoice billing makes from it must agree to the cent, so there is one rule.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 minor units that differ from the usual two decimals.
_MINOR_UNITS = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    "CLF": 4,
    "UYW": 4,
}


def minor_unit(currency: str) -> int:
    return _MINOR_UNITS.get(currency, 2)


def quantize(amount: Decimal, currency: str) -> Decimal:
    return Decimal(amount).quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_UP)


def to_minor(amount: Decimal, currency: str) -> int:
    """Amount in minor units: exact integer sums in SQL on PostgreSQL and SQLite alike."""
    return int(quantize(amount, currency).scaleb(minor_unit(currency)))


def from_minor(minor: int | Decimal, currency: str) -> Decimal:
    return quantize(Decimal(minor).scaleb(-minor_unit(currency)), currency)


# The largest amount (exclusive) the services take or compute, whatever the currency: 14
# integer digits (the request types' limit). Per currency also under 10**16 minor units, so
# that sales' BIGINT minor-unit columns hold it times a probability (x100) with room to spare,
# and billing's NUMERIC(20, 4) columns hold a 200-line invoice with tax.
AMOUNT_LIMIT = Decimal(10) ** 14


def amount_limit(currency: str) -> Decimal:
    return min(AMOUNT_LIMIT, Decimal(10) ** (16 - minor_unit(currency)))


def fits(amount: Decimal, currency: str) -> bool:
    """Whether an amount (a line total, a deal or invoice total) is within the limit."""
    return abs(amount) < amount_limit(currency)


def too_large(currency: str) -> str:
    """The message for an amount past the limit."""
    return f"the amount must stay below {amount_limit(currency):f} {currency}"
