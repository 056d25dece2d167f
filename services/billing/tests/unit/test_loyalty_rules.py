"""Loyalty arithmetic in billing (docs/domain.md §10.5): the member discount lines and what points pay."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tessera_billing.invoices.rules import LineInput, invoice_totals, line_amounts
from tessera_billing.loyalty.rules import member_discount_lines, most_points, point_value, points_amount


class TestMemberDiscountLines:
    def test_one_negative_line_at_the_levels_rate(self) -> None:
        (line,) = member_discount_lines("gold", D("5.0000"), [(D("200.00"), D(19)), (D("33.33"), D(19))], "EUR")
        # 5 % of 233.33 = 11.6665, half-up to the cent
        assert (line.description, line.net, line.tax_rate_percent, line.rate) == (
            "Gold member discount 5%",
            D("-11.67"),
            D(19),
            D("5.0000"),
        )

    @pytest.mark.parametrize(
        ("currency", "base", "expected"),
        [
            ("EUR", D("10.10"), D("-0.51")),  # 0.505 -> 0.51 (half-up, not half-even)
            ("JPY", D("1010"), D("-51")),  # 50.5 -> 51, no minor unit
            ("BHD", D("10.010"), D("-0.501")),  # 0.5005 -> 0.501, three decimals
            ("EUR", D("0.09"), None),  # 0.0045 rounds to nothing: no line
        ],
    )
    def test_rounded_half_up_to_the_currencys_minor_unit(self, currency: str, base: D, expected: D | None) -> None:
        lines = member_discount_lines("gold", D(5), [(base, D(0))], currency)
        assert [x.net for x in lines] == ([] if expected is None else [expected])

    def test_one_line_per_tax_rate_so_the_tax_stays_right(self) -> None:
        lines = member_discount_lines("platinum", D(10), [(D("100.00"), D(19)), (D("50.00"), D(7))], "EUR")
        assert [(x.description, x.net, x.tax_rate_percent) for x in lines] == [
            ("Platinum member discount 10% (tax 19%)", D("-10.00"), D(19)),
            ("Platinum member discount 10% (tax 7%)", D("-5.00"), D(7)),
        ]

    def test_totals_stay_consistent(self) -> None:
        items = [LineInput(D(3), D("33.33"), D(0), D(19)), LineInput(D(1), D("0.99"), D(10), D(7))]
        amounts = [line_amounts(i, "EUR") for i in items]
        discounts = member_discount_lines(
            "gold", D("2.5"), [(a.net, i.tax_rate_percent) for a, i in zip(amounts, items, strict=True)], "EUR"
        )
        discount_amounts = [line_amounts(LineInput(D(1), d.net, D(0), d.tax_rate_percent), "EUR") for d in discounts]
        totals = invoice_totals([*amounts, *discount_amounts])
        assert [(a.net, a.tax) for a in discount_amounts] == [(D("-2.50"), D("-0.48")), (D("-0.02"), D("0.00"))]
        assert totals.subtotal == D("99.99") + D("0.89") - D("2.52")
        assert totals.total == totals.subtotal + totals.tax_total
        assert totals.tax_total == D("19.00") + D("0.06") - D("0.48")

    @pytest.mark.parametrize("rate", [D(0), D("0.0000")])
    def test_no_line_at_a_level_without_discount(self, rate: D) -> None:
        assert member_discount_lines("silver", rate, [(D("100.00"), D(19))], "EUR") == []


class TestPoints:
    def test_the_currencys_value_else_the_default(self) -> None:
        assert point_value("JPY", {"JPY": D(1)}, D("0.01")) == D(1)
        assert point_value("EUR", {"JPY": D(1)}, D("0.01")) == D("0.01")

    @pytest.mark.parametrize(
        ("points", "value", "currency", "amount"),
        [(1000, D("0.01"), "EUR", D("10.00")), (5, D("0.3"), "JPY", D(2)), (1, D("0.0005"), "BHD", D("0.001"))],
    )
    def test_what_points_pay_half_up(self, points: int, value: D, currency: str, amount: D) -> None:
        assert points_amount(points, value, currency) == amount

    @pytest.mark.parametrize(
        ("open_amount", "value", "currency", "most"),
        [(D("10.00"), D("0.01"), "EUR", 1000), (D(10), D("0.3"), "JPY", 34), (D(0), D("0.01"), "EUR", 0)],
    )
    def test_the_most_points_an_open_amount_takes(self, open_amount: D, value: D, currency: str, most: int) -> None:
        assert most_points(open_amount, value, currency) == most
        assert points_amount(most + 1, value, currency) > open_amount
