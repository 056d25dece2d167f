"""Credit at the point of sale, sales' side (docs/domain.md §10.1): a win past the customer's credit
limit is refused unless a finance manager overrides; other currencies are converted with billing's
rates, and a missing rate refuses the win."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

import tessera_sales.main as sales_main
from tessera_sales.credit.models import DealCreditCheck
from tessera_sales.testing import Api
from tessera_shared.consumer import Batched
from tessera_shared.db import unit_of_work
from tessera_shared.events import build_event
from tessera_shared.events.contracts import CreditExposureChanged, OpenBalance

FIN = ("fin", "finance_manager")


def exposure(
    customer: uuid.UUID,
    limit: str = "5000.00",
    exposure: str = "4000.00",
    *,
    currency: str = "EUR",
    balances: dict[str, str] | None = None,
    deal_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> CreditExposureChanged:
    balances = {currency: exposure} if balances is None else balances
    return CreditExposureChanged(
        customer_id=customer,
        credit_limit=Decimal(limit),
        currency=currency,
        rating="B",
        exposure=Decimal(exposure),
        open_balances=[OpenBalance(currency=c, amount=Decimal(a)) for c, a in balances.items()],
        reason="invoice_issued",
        deal_id=deal_id,
        changed_at=at or datetime.now(UTC),
    )


async def win(api: Api, deal: dict, headers: dict[str, str], **body: object):
    return await api.client.post(f"/v1/deals/{deal['id']}/win", json=body, headers=headers)


async def check_of(api: Api, deal_id: str) -> DealCreditCheck:
    async with api.app.state.runtime.sessions() as s:
        row = (
            await s.execute(select(DealCreditCheck).where(DealCreditCheck.deal_id == uuid.UUID(deal_id)))
        ).scalar_one()
        s.expunge(row)
        return row


@pytest.mark.sqlite
async def test_a_win_within_the_limit_is_checked_and_carries_the_check(api: Api) -> None:
    customer = uuid.uuid4()
    await api.consume(exposure(customer, exposure="4000.00"))
    deal = await api.deal(customer_id=str(customer), amount="1000.00")
    r = await win(api, deal, api.rep1)
    assert r.status_code == 200, r.text
    [won] = await api.events("deal.won")
    assert won["data"]["credit_check"] == {
        "credit_limit": "5000.00",
        "exposure": "4000.00",
        "amount": "1000.00",
        "currency": "EUR",
        "exchange_rate": None,
        "fits": True,
    }
    assert won["data"]["credit_override_by"] is None
    row = await check_of(api, deal["id"])
    assert row.fits and row.override_by is None and not row.invoiced
    r = await api.client.get(f"/v1/deals/{deal['id']}/credit-check", headers=api.as_("fin", "finance_manager"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in ("credit_limit", "exposure", "amount", "currency", "exchange_rate", "fits")} == {
        "credit_limit": "5000.00",
        "exposure": "4000.00",
        "amount": "1000.00",
        "currency": "EUR",
        "exchange_rate": None,
        "fits": True,
    }
    assert (body["override_by"], body["invoiced"]) == (None, False)
    # The deal's visibility rule: another rep does not see it; a deal never won has no check.
    assert (await api.client.get(f"/v1/deals/{deal['id']}/credit-check", headers=api.rep2)).status_code == 404
    open_deal = await api.deal(customer_id=str(customer))
    assert (await api.client.get(f"/v1/deals/{open_deal['id']}/credit-check", headers=api.rep1)).status_code == 404


async def test_past_the_limit_is_refused_naming_the_figures(api: Api) -> None:
    customer = uuid.uuid4()
    await api.consume(exposure(customer, exposure="4000.00"))
    deal = await api.deal(customer_id=str(customer), amount="1000.01")
    r = await win(api, deal, api.rep1)
    assert r.status_code == 409
    problem = r.json()
    assert problem["type"] == "urn:tessera:problem:credit-limit-exceeded"
    assert {k: problem[k] for k in ("limit", "exposure", "amount", "currency", "headroom")} == {
        "limit": "5000.00",
        "exposure": "4000.00",
        "amount": "1000.01",
        "currency": "EUR",
        "headroom": "1000.00",
    }
    assert await api.events("deal.won") == []
    # A rep or a sales manager cannot override; a finance manager can, and it is recorded.
    for who in (api.rep1, api.manager):
        r = await win(api, deal, who, credit_override=True)
        assert r.status_code == 403
    r = await win(api, deal, api.as_(*FIN), credit_override=True)
    assert r.status_code == 200, r.text
    [won] = await api.events("deal.won")
    assert won["data"]["credit_override_by"] == "fin"
    assert won["data"]["credit_check"]["fits"] is False
    row = await check_of(api, deal["id"])
    assert (row.fits, row.override_by, row.amount) == (False, "fin", Decimal("1000.01"))


async def test_no_win_before_billing_announced_the_customers_limit(api: Api) -> None:
    """Sales has no default limit of its own: until billing's first credit.exposure_changed for the
    customer (billing announces each profile it makes), a win is 503 with Retry-After, even with a
    finance override, and nothing is decided or recorded."""
    customer = uuid.uuid4()
    payload = {"customer_id": str(customer), "title": "x", "amount": "10.00", "currency": "EUR"}
    r = await api.client.post("/v1/deals", json=payload, headers=api.rep1)
    assert r.status_code == 201, r.text
    deal = r.json()
    for headers, body in ((api.rep1, {}), (api.as_("fin", "finance_manager"), {"credit_override": True})):
        r = await win(api, deal, headers, **body)
        assert (r.status_code, r.headers["retry-after"]) == (503, "5")
        assert (r.json()["type"], r.json()["customer_id"]) == (
            "urn:tessera:problem:credit-position-unknown",
            str(customer),
        )
    assert await api.count(DealCreditCheck) == 0 and await api.events("deal.won") == []
    await api.consume(exposure(customer, limit="10.00", exposure="0.00"))  # billing's profile_created
    r = await win(api, deal, api.rep1)
    assert r.status_code == 200, r.text
    assert (await check_of(api, deal["id"])).credit_limit == Decimal("10.00")


async def test_a_win_waits_for_billings_first_announcement(api: Api) -> None:
    """A client that creates a customer and wins its deal at once is answered on the real limit:
    the win waits (holding no transaction) for billing's announcement of the new profile, which
    arrives a fraction of a second after customer.created."""
    customer = uuid.uuid4()
    payload = {"customer_id": str(customer), "title": "x", "amount": "10.00", "currency": "EUR"}
    deal = (await api.client.post("/v1/deals", json=payload, headers=api.rep1)).json()

    async def announce_soon() -> None:
        await asyncio.sleep(0.2)
        await api.consume(exposure(customer, limit="5.00", exposure="0.00"))

    r, _ = await asyncio.gather(win(api, deal, api.rep1), announce_soon())
    # Decided on the announced limit (5.00 < 10.00), not answered 503.
    assert r.status_code == 409, r.text
    assert r.json()["type"] == "urn:tessera:problem:credit-limit-exceeded"


async def test_wins_not_yet_invoiced_count_until_billing_announces_them(api: Api) -> None:
    customer = uuid.uuid4()
    await api.consume(exposure(customer, exposure="0.00"))
    first = await api.deal(customer_id=str(customer), amount="3000.00")
    assert (await win(api, first, api.rep1)).status_code == 200
    second = await api.deal(customer_id=str(customer), amount="2500.00")
    r = await win(api, second, api.rep1)
    assert r.status_code == 409 and r.json()["exposure"] == "3000.00"
    # Billing issues the first deal's invoice: its amount is in the exposure now, counted once.
    await api.consume(exposure(customer, exposure="3000.00", deal_id=uuid.UUID(first["id"])))
    assert (await check_of(api, first["id"])).invoiced
    r = await win(api, second, api.rep1)
    assert r.status_code == 409 and r.json()["exposure"] == "3000.00"
    # Payments lower the exposure: the win fits.
    await api.consume(exposure(customer, exposure="2500.00"))
    assert (await win(api, second, api.rep1)).status_code == 200


async def test_an_older_announcement_does_not_overwrite_a_newer_one(api: Api) -> None:
    customer = uuid.uuid4()
    now = datetime.now(UTC)
    await api.consume(exposure(customer, exposure="0.00", at=now))
    await api.consume(exposure(customer, exposure="4900.00", at=now - timedelta(seconds=5)))
    deal = await api.deal(customer_id=str(customer), amount="1000.00")
    assert (await win(api, deal, api.rep1)).status_code == 200


async def test_a_run_of_announcements_keeps_each_customers_newest_and_marks_every_deal(api: Api) -> None:
    """The consumer hands consecutive announcements over at once: as one by one, the newest of each
    customer stays (out of order in the run), and every deal named is invoiced."""
    a, b = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    for customer in (a, b):
        await api.consume(exposure(customer, exposure="0.00", at=now - timedelta(seconds=10)))
    first = await api.deal(customer_id=str(a), amount="1000.00")
    other = await api.deal(customer_id=str(b), amount="1000.00")
    assert (await win(api, first, api.rep1)).status_code == 200
    assert (await win(api, other, api.rep1)).status_code == 200
    run = [
        exposure(a, exposure="1000.00", deal_id=uuid.UUID(first["id"]), at=now),
        exposure(b, exposure="4500.00", deal_id=uuid.UUID(other["id"]), at=now),
        exposure(a, exposure="4900.00", at=now - timedelta(seconds=5)),  # older: changes nothing
    ]
    handler = sales_main.spec().handlers["credit.exposure_changed"]
    assert isinstance(handler, Batched)
    async with unit_of_work(api.app.state.runtime.sessions) as s:
        await handler.many(s, [(build_event(d, subject=d.customer_id), d) for d in run])
    assert (await check_of(api, first["id"])).invoiced and (await check_of(api, other["id"])).invoiced
    fits = await api.deal(customer_id=str(a), amount="4000.00")  # 1000 + 4000 within 5000: a's newest
    assert (await win(api, fits, api.rep1)).status_code == 200
    refused = await api.deal(customer_id=str(b), amount="1000.00")  # 4500 + 1000 past it
    assert (await win(api, refused, api.rep1)).status_code == 409


async def test_other_currencies_are_converted_with_the_rate_table(api: Api) -> None:
    customer = uuid.uuid4()
    await api.consume(exposure(customer, exposure="3000.00", balances={"EUR": "3000.00", "USD": "1000.00"}))
    deal = await api.deal(customer_id=str(customer), amount="1100.00", currency="USD")
    r = await win(api, deal, api.rep1)
    assert r.status_code == 409
    assert r.json()["type"] == "urn:tessera:problem:no-exchange-rate"
    assert (r.json()["from_currency"], r.json()["to_currency"]) == ("USD", "EUR")
    # Not even a finance override lets a win through unchecked.
    r = await win(api, deal, api.as_(*FIN), credit_override=True)
    assert r.status_code == 409 and r.json()["type"] == "urn:tessera:problem:no-exchange-rate"
    await api.rate("USD", "EUR", "0.9215")
    # exposure 3000 + 921.50 (1000 USD) = 3921.50; + 1013.65 (1100 USD) = 4935.15 <= 5000
    r = await win(api, deal, api.rep1)
    assert r.status_code == 200, r.text
    [won] = await api.events("deal.won")
    assert won["data"]["credit_check"] == {
        "credit_limit": "5000.00",
        "exposure": "3921.50",
        "amount": "1013.65",
        "currency": "EUR",
        "exchange_rate": "0.9215",
        "fits": True,
    }
    assert (await check_of(api, deal["id"])).exchange_rate == "0.9215"
    r = await api.client.get(f"/v1/deals/{deal['id']}/credit-check", headers=api.rep1)
    assert (r.json()["exchange_rate"], r.json()["amount"]) == ("0.9215", "1013.65")


async def test_a_newer_rate_replaces_an_older_one(api: Api) -> None:
    customer = uuid.uuid4()
    await api.consume(exposure(customer, exposure="0.00"))
    await api.rate("USD", "EUR", "2")
    deal = await api.deal(customer_id=str(customer), amount="3000.00", currency="USD")
    r = await win(api, deal, api.rep1)
    assert r.status_code == 409 and r.json()["amount"] == "6000.00" and r.json()["exchange_rate"] == "2"
    await api.rate("USD", "EUR", "0.9")
    assert (await win(api, deal, api.rep1)).status_code == 200


async def test_two_wins_at_once_are_checked_one_after_the_other(api: Api) -> None:
    customer = str(uuid.uuid4())  # api.deal: billing announced 10000.00 EUR, nothing open
    first, second = (
        await api.deal(customer_id=customer, amount="6000.00"),
        await api.deal(customer_id=customer, amount="6000.00"),
    )
    answers = await asyncio.gather(win(api, first, api.rep1), win(api, second, api.rep1))
    assert sorted(r.status_code for r in answers) == [200, 409]
    refused = next(r for r in answers if r.status_code == 409)
    assert (refused.json()["exposure"], refused.json()["limit"]) == ("6000.00", "10000.00")
