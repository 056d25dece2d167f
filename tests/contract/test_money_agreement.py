"""A deal's amount in sales and the invoice billing makes from its lines agree to the cent."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest

from tessera_billing.invoices.rules import LineInput, invoice_totals, line_amounts
from tessera_sales.deals.rules import Line, deal_amount

PRICES = [D("0.005"), D("0.125"), D("19.99"), D("100.005"), D("999.5"), D("1.2345"), D("0.015")]
QUANTITIES = [D(1), D(3), D("2.5"), D("0.333")]
DISCOUNTS = [D(0), D(10), D("12.5"), D("33.333")]


@pytest.mark.parametrize("currency", ["EUR", "JPY", "KWD"])
def test_deal_amount_equals_invoice_subtotal(currency: str) -> None:
    for price, qty, discount in itertools.product(PRICES, QUANTITIES, DISCOUNTS):
        lines = [(qty, price, discount), (D(1), D("0.005"), D(0))]
        sales = deal_amount([Line(q, p, d) for q, p, d in lines], currency)
        billing = invoice_totals(line_amounts(LineInput(q, p, d), currency) for q, p, d in lines).subtotal
        assert sales == billing, (currency, lines)
