"""The delivery engine driven by hand (its loops off): the retry schedule, giving up after the
retry days, disabling an endpoint failing for days (its owner and the admins told), a send cut
off before its outcome was recorded made again with the same webhook-id, and the metrics."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from notifications_helpers import admin, deliver, large_deal, make_app
from sqlalchemy import select, update
from webhook_receiver import receiving

from tessera_notifications.webhooks.deliveries import purge_finished
from tessera_notifications.webhooks.models import WebhookDelivery, WebhookEndpoint
from tessera_shared.db import unit_of_work, utcnow
from tessera_shared.events.contracts import CustomerErased
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.plugin import bearer, running

ENDPOINTS = "/v1/webhooks/endpoints"


async def rows(app):  # type: ignore[no-untyped-def]
    async with app.state.runtime.sessions() as session:
        return list((await session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id))).scalars())


async def change(app, model, **values) -> None:  # type: ignore[no-untyped-def]
    async with unit_of_work(app.state.runtime.sessions) as session:
        await session.execute(update(model).values(**values))


@pytest.mark.sqlite
async def test_retries_follow_the_schedule_then_give_up_and_a_failing_endpoint_is_disabled(databases, backend) -> None:
    async with receiving(lambda _: 503) as receiver:
        app = await make_app(databases, backend, webhook_worker_enabled=False)
        partner = bearer(app, "acme", "partner", kind="client")
        async with running(app) as client:
            endpoint = (
                await client.post(ENDPOINTS, json={"url": receiver.url, "event_types": ["*"]}, headers=partner)
            ).json()
            await client.post(f"{ENDPOINTS}/{endpoint['id']}/test", headers=partner)
            engine = app.state.webhooks
            waits = []  # each retry's wait, bracketed by the clock before and after the attempt
            for _ in range(3):
                before = utcnow()
                assert await engine.run_once() == 1
                (row,) = await rows(app)
                after = utcnow()
                assert row.status == "pending"
                waits.append(
                    ((row.next_attempt_at - after).total_seconds(), (row.next_attempt_at - before).total_seconds())
                )
                await change(app, WebhookDelivery, next_attempt_at=utcnow())
            for (shortest, longest), (low, high) in zip(waits, [(4, 6), (240, 360), (1440, 2160)], strict=True):
                assert low <= longest and shortest <= high, (waits, low, high)  # 5 s, 5 min, 30 min +-20 %
            assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
            assert await engine.run_once() == 1  # the 4th attempt: retried in about 2 h
            (row,) = await rows(app)
            assert row.status == "pending" and row.last_status_code == 503

            # Three days after it was written, the next failure is the last.
            await change(app, WebhookDelivery, next_attempt_at=utcnow(), created_at=utcnow() - timedelta(days=3))
            assert await engine.run_once() == 1
            (row,) = await rows(app)
            assert (row.status, row.attempts) == ("failed", 5)
            found = (await client.get(f"{ENDPOINTS}/{endpoint['id']}", headers=partner)).json()
            assert found["enabled"] is True  # failing for minutes only

            # Failing for five days: disabled, announced, owner and admins told.
            await change(app, WebhookEndpoint, failing_since=utcnow() - timedelta(days=5, minutes=1))
            await client.post(f"{ENDPOINTS}/{endpoint['id']}/test", headers=partner)
            assert await engine.run_once() == 1
            found = (await client.get(f"{ENDPOINTS}/{endpoint['id']}", headers=partner)).json()
            assert (found["enabled"], found["disabled_reason"]) == (False, "failing for days")
            inbox = (await client.get("/v1/notifications", headers=admin(app))).json()["items"]
            assert [n["type"] for n in inbox] == ["webhook_endpoint.disabled"]
            assert "5 days" in inbox[0]["body"]
            async with app.state.runtime.sessions() as session:
                types = list((await session.execute(select(outbox.c.event_type))).scalars())
            assert types.count("webhook_endpoint.disabled") == 1
            await client.post(f"{ENDPOINTS}/{endpoint['id']}/test", headers=partner)
            assert await engine.run_once() == 0  # nothing goes to a disabled endpoint

            # Enabled again by its owner: the waiting delivery goes.
            receiver.answer = lambda _: 200
            r = await client.patch(f"{ENDPOINTS}/{endpoint['id']}", json={"enabled": True}, headers=partner)
            assert r.json()["enabled"] is True and r.json()["disabled_reason"] is None
            assert await engine.run_once() == 1
            metrics = (await client.get("/metrics")).text
    assert "tessera_webhooks_delivered_total" in metrics
    assert 'tessera_webhooks_attempt_failures_total{kind="status"}' in metrics
    assert "tessera_webhooks_request_seconds_bucket" in metrics


@pytest.mark.sqlite
async def test_a_send_whose_outcome_was_lost_is_made_again_with_the_same_webhook_id(databases, backend) -> None:
    async with receiving() as receiver:
        app = await make_app(databases, backend, webhook_worker_enabled=False)
        partner = bearer(app, "acme", "partner", kind="client")
        async with running(app) as client:
            endpoint = (
                await client.post(ENDPOINTS, json={"url": receiver.url, "event_types": ["*"]}, headers=partner)
            ).json()
            await client.post(f"{ENDPOINTS}/{endpoint['id']}/test", headers=partner)
            engine = app.state.webhooks
            claimed = await engine.claim()  # claimed and its attempt recorded, then the process "dies"
            assert len(claimed) == 1
            assert await engine.claim() == []  # claimed until claimed_until: nobody else takes it
            await engine._send(claimed[0])  # the request went out; its outcome was never recorded
            await change(app, WebhookDelivery, claimed_until=utcnow() - timedelta(seconds=1))
            assert await engine.run_once() == 1
            page = (await client.get(f"{ENDPOINTS}/{endpoint['id']}/deliveries", headers=partner)).json()
    delivery = page["items"][0]
    assert [r.headers["webhook-id"] for r in receiver.received] == [delivery["webhook_id"]] * 2
    assert delivery["status"] == "delivered"
    first, second = delivery["attempts"]
    assert first["finished_at"] is None and second["status_code"] == 200  # the repeat is countable


@pytest.mark.sqlite
async def test_an_erasure_and_the_retention_job_remove_finished_deliveries(databases, backend) -> None:
    erased, kept = uuid.uuid4(), uuid.uuid4()
    async with receiving() as receiver:
        app = await make_app(databases, backend, webhook_worker_enabled=False)
        partner = bearer(app, "acme", "partner", kind="client")
        async with running(app) as client:
            await client.post(ENDPOINTS, json={"url": receiver.url, "event_types": ["*"]}, headers=partner)
            for customer in (erased, kept):
                await deliver(app, large_deal(customer), subject=customer)
            assert await app.state.webhooks.run_once() == 2
            await deliver(
                app, CustomerErased(customer_id=erased, requested_by="admin", erased_at=utcnow()), subject=erased
            )
            left = [(r.event_type, r.ordering_key, r.status) for r in await rows(app)]
            assert left == [
                ("deal.large_detected", str(kept), "delivered"),
                ("customer.erased", str(erased), "pending"),
            ]
            assert await purge_finished(app.state.runtime.sessions, utcnow(), 30) == {"purged": 0}
            later = utcnow() + timedelta(days=31)
            assert await purge_finished(app.state.runtime.sessions, later, 30) == {"purged": 1}
            assert [r.event_type for r in await rows(app)] == ["customer.erased"]  # not finished: kept
