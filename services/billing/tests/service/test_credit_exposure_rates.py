"""Credit at the point of sale, billing's side (docs/domain.md §10.1): every change to a customer's
limit or open receivables is announced as credit.exposure_changed; the exchange-rate table is kept
by finance and announced as exchange_rate.set; an approved override past the limit is recorded as
credit.limit_exceeded."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from billing_helpers import clerk, customer_created, deal_won, deliver, events, finance, issued_invoice, pay

from tessera_shared.events.contracts import CreditCheck
from tessera_shared.testing.plugin import bearer


def last_exposure(rows: list[dict]) -> dict:
    return rows[-1]


async def test_issue_pay_void_and_limit_change_announce_exposure(app, client) -> None:
    customer = uuid.uuid4()
    await deliver(app, customer_created(customer), customer)
    first = await issued_invoice(app, client, customer, amount="1200.00")
    await issued_invoice(app, client, customer, amount="50.00", currency="USD")
    rows = await events(app, "credit.exposure_changed")
    issued = last_exposure(rows)
    assert issued["reason"] == "invoice_issued"
    assert issued["currency"] == "EUR" and issued["credit_limit"] == "5000.00"
    assert issued["exposure"] == "1200.00"
    assert {b["currency"]: b["amount"] for b in issued["open_balances"]} == {"EUR": "1200.00", "USD": "50.00"}

    r = await pay(app, client, customer_id=customer, amount="200.00")
    assert r.status_code == 201, r.text
    paid = last_exposure(await events(app, "credit.exposure_changed"))
    assert (paid["reason"], paid["exposure"]) == ("payment_applied", "1000.00")

    r = await client.patch(f"/v1/credit/{customer}", json={"credit_limit": "8000.00"}, headers=finance(app))
    assert r.status_code == 200, r.text
    changed = last_exposure(await events(app, "credit.exposure_changed"))
    assert (changed["reason"], changed["credit_limit"], changed["exposure"]) == (
        "profile_changed",
        "8000.00",
        "1000.00",
    )

    second = await issued_invoice(app, client, customer, amount="10.00")
    r = await client.post(f"/v1/invoices/{second['id']}/void", headers=clerk(app))
    assert r.status_code == 200, r.text
    voided = last_exposure(await events(app, "credit.exposure_changed"))
    assert (voided["reason"], voided["exposure"]) == ("invoice_voided", "1000.00")
    assert first["status"] == "issued"


@pytest.mark.sqlite
async def test_each_new_profile_is_announced_once_from_a_batched_run(app, client) -> None:
    """customer.created makes the default profile and announces it (profile_created), so sales learns
    each customer's limit from billing; in a batched run each row continues its own event's trace."""
    import orjson
    from sqlalchemy import select

    from tessera_shared.db import unit_of_work
    from tessera_shared.events import build_event
    from tessera_shared.outbox import outbox

    a, b = uuid.uuid4(), uuid.uuid4()
    parents = {c: f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01" for c in (a, b)}
    run = [build_event(customer_created(c), subject=c, traceparent=parents[c]) for c in (a, b)]
    handler = app.state.runtime.spec.handlers["customer.created"]
    for _ in range(2):  # the second run is a redelivery: nothing new is made, nothing announced
        async with unit_of_work(app.state.runtime.sessions) as session:
            await handler.many(session, [(e, e.typed_data()) for e in run])
    query = select(outbox.c.envelope).where(outbox.c.event_type == "credit.exposure_changed").order_by(outbox.c.seq)
    async with app.state.runtime.sessions() as s:
        made = [orjson.loads(env) for (env,) in await s.execute(query)]
    assert [(e["subject"], e["data"]["reason"]) for e in made] == [
        (str(a), "profile_created"),
        (str(b), "profile_created"),
    ]
    for e in made:
        data = e["data"]
        assert (data["credit_limit"], data["currency"], data["exposure"], data["open_balances"]) == (
            "5000.00",
            "EUR",
            "0.00",
            [],
        )
        assert e["traceparent"][3:35] == parents[uuid.UUID(e["subject"])][3:35]  # the same trace id


async def test_invoice_from_deal_names_the_deal(app, client) -> None:
    customer, deal = uuid.uuid4(), uuid.uuid4()
    await deliver(app, customer_created(customer), customer)
    await deliver(app, deal_won(customer, deal_id=deal), customer)
    rows = await events(app, "credit.exposure_changed")
    assert [r["reason"] for r in rows] == ["profile_created", "invoice_issued"]
    assert rows[-1]["deal_id"] == str(deal) and rows[-1]["exposure"] == "238.00"


async def test_an_approved_override_is_recorded_as_limit_exceeded(app, client) -> None:
    customer = uuid.uuid4()
    await deliver(app, customer_created(customer), customer)
    won = deal_won(customer).model_copy(
        update={
            "credit_override_by": "finance",
            "currency": "USD",
            "credit_check": CreditCheck(
                credit_limit=Decimal("5000.00"),
                exposure=Decimal("4900.00"),
                amount=Decimal("219.10"),
                currency="EUR",
                exchange_rate=Decimal("0.92"),
                fits=False,
            ),
        }
    )
    await deliver(app, won, customer)
    [record] = await events(app, "credit.limit_exceeded")
    assert record["approved_by"] == "finance"
    assert (record["requested_amount"], record["exposure"], record["credit_limit"]) == ("219.10", "4900.00", "5000.00")
    assert (record["currency"], record["deal_currency"], record["exchange_rate"]) == ("EUR", "USD", "0.92")


async def test_a_checked_win_that_fits_records_nothing(app, client) -> None:
    customer = uuid.uuid4()
    await deliver(app, customer_created(customer), customer)
    check = CreditCheck(
        credit_limit=Decimal(5000), exposure=Decimal(0), amount=Decimal("238.00"), currency="EUR", fits=True
    )
    await deliver(app, deal_won(customer).model_copy(update={"credit_check": check}), customer)
    assert await events(app, "credit.limit_exceeded") == []


@pytest.mark.sqlite
async def test_exchange_rates_api(app, client) -> None:
    r = await client.put("/v1/exchange-rates/USD/EUR", json={"rate": "0.9215"}, headers=finance(app))
    assert r.status_code == 200, r.text
    assert r.json()["rate"] == "0.9215" and r.json()["set_by"] == "finance" and r.json()["version"] == 1
    r = await client.put("/v1/exchange-rates/USD/EUR", json={"rate": "0.93"}, headers=finance(app))
    assert r.status_code == 200 and r.json()["version"] == 2
    r = await client.get("/v1/exchange-rates/USD/EUR", headers=clerk(app))
    assert r.status_code == 200 and r.json()["rate"] == "0.93"
    r = await client.get("/v1/exchange-rates", headers=bearer(app, "rep", "sales_rep"))
    assert r.status_code == 200 and [x["from_currency"] for x in r.json()["items"]] == ["USD"]
    announced = await events(app, "exchange_rate.set")
    assert [(e["from_currency"], e["to_currency"], e["rate"]) for e in announced] == [
        ("USD", "EUR", "0.9215"),
        ("USD", "EUR", "0.93"),
    ]


async def test_exchange_rates_refusals(app, client) -> None:
    r = await client.put("/v1/exchange-rates/USD/EUR", json={"rate": "0.92"}, headers=clerk(app))
    assert r.status_code == 403
    r = await client.put("/v1/exchange-rates/USD/EUR", json={"rate": "0.92"}, headers=bearer(app, "rep", "sales_rep"))
    assert r.status_code == 403
    for bad in ("0", "-1", 0.92, "1.12345678901"):
        r = await client.put("/v1/exchange-rates/USD/EUR", json={"rate": bad}, headers=finance(app))
        assert r.status_code == 422, (bad, r.text)
    r = await client.put("/v1/exchange-rates/EUR/EUR", json={"rate": "1"}, headers=finance(app))
    assert r.status_code == 422
    r = await client.put("/v1/exchange-rates/usd/EUR", json={"rate": "1"}, headers=finance(app))
    assert r.status_code == 422
    r = await client.get("/v1/exchange-rates/GBP/EUR", headers=finance(app))
    assert r.status_code == 404
    r = await client.get("/v1/exchange-rates", headers=bearer(app, "agent", "support_agent"))
    assert r.status_code == 403
