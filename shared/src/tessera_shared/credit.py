"""Credit at the point of sale without I/O (docs/domain.md §10.1), one rule for every service that
checks a limit (sales at the win, billing's ``POST /v1/credit/{id}/check``): amounts converted into
the limit's currency with the operator's rates, then exposure + amount against the limit.

``NoExchangeRate`` is the 409 both answer when a currency cannot be converted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from tessera_shared.errors import Conflict
from tessera_shared.money import quantize

ZERO = Decimal(0)


class MissingRate(Exception):
    """No rate converts ``from_currency`` into ``to_currency``."""

    def __init__(self, from_currency: str, to_currency: str) -> None:
        super().__init__(f"no exchange rate {from_currency}/{to_currency}")
        self.from_currency = from_currency
        self.to_currency = to_currency


def convert(amount: Decimal, from_currency: str, to_currency: str, rates: Mapping[tuple[str, str], Decimal]) -> Decimal:
    """``amount`` in ``to_currency``: times the rate of the pair (1 from = rate to), rounded half-up to the
    target currency's minor unit. Only the pair itself converts (no inverse, no cross rate)."""
    if from_currency == to_currency:
        return quantize(amount, to_currency)
    rate = rates.get((from_currency, to_currency))
    if rate is None:
        raise MissingRate(from_currency, to_currency)
    return quantize(amount * rate, to_currency)


def exposure_in(
    currency: str, balances: Iterable[tuple[str, Decimal]], rates: Mapping[tuple[str, str], Decimal]
) -> Decimal:
    """Open receivables in every currency, each converted into the limit's ``currency`` and summed."""
    return sum((convert(amount, c, currency, rates) for c, amount in balances if amount), ZERO)


@dataclass(frozen=True)
class LimitCheck:
    credit_limit: Decimal
    exposure: Decimal
    amount: Decimal
    currency: str
    # 1 deal currency = rate limit currency; None when the deal is in the limit's currency.
    exchange_rate: Decimal | None
    fits: bool

    @property
    def headroom(self) -> Decimal:
        return self.credit_limit - self.exposure


def check_limit(
    *,
    credit_limit: Decimal,
    currency: str,
    balances: Iterable[tuple[str, Decimal]],
    amount: Decimal,
    amount_currency: str,
    rates: Mapping[tuple[str, str], Decimal],
) -> LimitCheck:
    """A win fits when exposure + the deal's amount (both in the limit's currency) ≤ the limit."""
    converted = convert(amount, amount_currency, currency, rates)
    exposure = exposure_in(currency, balances, rates)
    rate = None if amount_currency == currency else rates[(amount_currency, currency)]
    return LimitCheck(
        credit_limit=quantize(credit_limit, currency),
        exposure=exposure,
        amount=converted,
        currency=currency,
        exchange_rate=rate,
        fits=exposure + converted <= credit_limit,
    )


class NoExchangeRate(Conflict):
    """The amount or an open receivable is in a currency no rate converts into the limit's (409)."""

    slug = "no-exchange-rate"

    def __init__(self, missing: MissingRate) -> None:
        super().__init__(
            f"no exchange rate converts {missing.from_currency} into the credit limit's {missing.to_currency}; "
            f"a finance manager sets it with PUT /v1/exchange-rates/{missing.from_currency}/{missing.to_currency} "
            "(billing)",
            from_currency=missing.from_currency,
            to_currency=missing.to_currency,
        )
