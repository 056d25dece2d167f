"""Exact money: quantize to a currency's minor unit, half-up, as invoices are printed."""

from __future__ import annotations

from decimal import Decimal

from tessera_shared.money import minor_unit, quantize

__all__ = ["ZERO", "has_valid_precision", "minor_unit", "quantize"]
ZERO = Decimal("0")


def has_valid_precision(amount: Decimal, currency: str) -> bool:
    """A payment or limit must not carry fractions of the currency's smallest coin."""
    return quantize(amount, currency) == amount
