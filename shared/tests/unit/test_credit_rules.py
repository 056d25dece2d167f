"""The credit-limit rule of a win (docs/domain.md §10.1): conversion, rounding, exposure + amount."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tessera_shared.credit import MissingRate, check_limit, convert, exposure_in

D = Decimal
RATES = {
    ("USD", "EUR"): D("0.9215"),
    ("JPY", "EUR"): D("0.0061234567"),
    ("EUR", "JPY"): D("163.3"),
    ("EUR", "KWD"): D("0.33"),
}


def test_same_currency_is_not_converted_only_rounded() -> None:
    assert convert(D("100.00"), "EUR", "EUR", {}) == D("100.00")


@pytest.mark.parametrize(
    ("amount", "source", "target", "expected"),
    [
        (D("100.00"), "USD", "EUR", D("92.15")),
        (D("0.05"), "USD", "EUR", D("0.05")),  # 0.046075 -> 0.05, half-up to the cent
        (D("12345"), "JPY", "EUR", D("75.59")),  # 75.59339... -> 75.59
        (D("10.01"), "EUR", "JPY", D("1635")),  # 1634.633 -> 1635, JPY has no minor unit
        (D("10.00"), "EUR", "KWD", D("3.300")),  # KWD: 3 decimals
        (D("1.50"), "EUR", "JPY", D("245")),  # 244.95 -> 245
    ],
)
def test_conversion_rounds_half_up_to_the_target_minor_unit(amount, source, target, expected) -> None:
    converted = convert(amount, source, target, RATES)
    assert converted == expected
    assert converted.as_tuple().exponent == expected.as_tuple().exponent


def test_half_up_at_the_tie() -> None:
    assert convert(D("1.00"), "USD", "EUR", {("USD", "EUR"): D("0.125")}) == D("0.13")


def test_only_the_pair_itself_converts() -> None:
    with pytest.raises(MissingRate) as missing:
        convert(D(1), "EUR", "USD", RATES)  # USD->EUR exists, not its inverse
    assert (missing.value.from_currency, missing.value.to_currency) == ("EUR", "USD")


def test_exposure_sums_every_currency_converted() -> None:
    balances = [("EUR", D("1000.00")), ("USD", D("100.00")), ("USD", D("0"))]
    assert exposure_in("EUR", balances, RATES) == D("1092.15")
    with pytest.raises(MissingRate):
        exposure_in("EUR", [("GBP", D("1"))], RATES)
    assert exposure_in("EUR", [("GBP", D("0"))], RATES) == 0  # nothing open in GBP: no rate needed


def check(limit: str, balances: list[tuple[str, Decimal]], amount: str, currency: str = "EUR"):
    return check_limit(
        credit_limit=D(limit),
        currency="EUR",
        balances=balances,
        amount=D(amount),
        amount_currency=currency,
        rates=RATES,
    )


def test_exposure_plus_amount_up_to_the_limit_fits() -> None:
    at_limit = check("5000.00", [("EUR", D("4000.00"))], "1000.00")
    assert at_limit.fits and at_limit.headroom == D("1000.00")
    past = check("5000.00", [("EUR", D("4000.00"))], "1000.01")
    assert not past.fits
    assert (past.credit_limit, past.exposure, past.amount, past.currency) == (
        D("5000.00"),
        D("4000.00"),
        D("1000.01"),
        "EUR",
    )
    assert past.exchange_rate is None


def test_a_deal_in_another_currency_is_checked_converted() -> None:
    # 1100 USD = 1013.65 EUR; 4000 + 1013.65 > 5000
    refused = check("5000.00", [("EUR", D("4000.00"))], "1100.00", "USD")
    assert not refused.fits and refused.amount == D("1013.65") and refused.exchange_rate == D("0.9215")
    assert check("5000.00", [("EUR", D("3986.35"))], "1100.00", "USD").fits


def test_no_rate_for_the_deal_is_refused_never_skipped() -> None:
    with pytest.raises(MissingRate):
        check("5000.00", [], "1.00", "GBP")


def test_a_zero_limit_refuses_any_amount() -> None:
    assert not check("0", [], "0.01").fits
