"""The operator's exchange-rate table (docs/domain.md §10.1): finance keeps it, sales converts with it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from tessera_billing.api import CREDIT_READERS
from tessera_billing.rates.schemas import ExchangeRateIn, ExchangeRateList, ExchangeRateOut
from tessera_billing.rates.service import find_rate, list_rates, set_rate
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.errors import NotFound

router = APIRouter(prefix="/v1/exchange-rates", tags=["exchange rates"])

READERS = (*CREDIT_READERS,)
RATE_SETTERS = (Role.FINANCE_MANAGER,)
CurrencyPath = Annotated[str, Path(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]


@router.get("", response_model=ExchangeRateList, summary="Every exchange rate of the table")
async def get_exchange_rates(session: SessionDep, _: Annotated[Principal, require_roles(*READERS)]) -> ExchangeRateList:
    return ExchangeRateList(items=[ExchangeRateOut.of(r) for r in await list_rates(session)])


@router.get(
    "/{from_currency}/{to_currency}",
    response_model=ExchangeRateOut,
    summary="One rate: 1 from_currency = rate to_currency",
)
async def get_exchange_rate(
    from_currency: CurrencyPath,
    to_currency: CurrencyPath,
    session: SessionDep,
    _: Annotated[Principal, require_roles(*READERS)],
) -> ExchangeRateOut:
    row = await find_rate(session, from_currency, to_currency)
    if row is None:
        raise NotFound("exchange rate", f"{from_currency}/{to_currency}")
    return ExchangeRateOut.of(row)


@router.put(
    "/{from_currency}/{to_currency}",
    response_model=ExchangeRateOut,
    summary="Set a rate (finance_manager): sales converts deal amounts into credit limits with it",
)
async def put_exchange_rate(
    from_currency: CurrencyPath,
    to_currency: CurrencyPath,
    body: ExchangeRateIn,
    session: SessionDep,
    principal: Annotated[Principal, require_roles(*RATE_SETTERS)],
) -> ExchangeRateOut:
    row = await set_rate(session, from_currency, to_currency, body.rate, principal.subject)
    return ExchangeRateOut.of(row)
