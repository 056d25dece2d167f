"""Partner webhooks over HTTP, against a real receiver on 127.0.0.1: the endpoints API and its
owner rule, event-type and SSRF validation, signatures (and two after a rotation), retries with
one webhook-id, 410, redelivery, and the per-key order of an ordered endpoint."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
from notifications_helpers import admin, deliver, make_app, user
from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from webhook_receiver import Received, receiving

from tessera_notifications.webhooks.ssrf import AddressPolicy
from tessera_shared.events.contracts import DealWon
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.plugin import bearer, running

ENDPOINTS = "/v1/webhooks/endpoints"


def partner(app, name: str = "acme") -> dict[str, str]:
    return bearer(app, name, "partner", kind="client")


def deal_won(customer_id: uuid.UUID) -> DealWon:
    return DealWon(
        deal_id=uuid.uuid4(),
        customer_id=customer_id,
        title="Big one",
        amount=Decimal("1200.50"),
        currency="EUR",
        line_items=[],
        owner_id="rep1",
        won_at=datetime.now(UTC),
    )


async def published(app) -> list[str]:
    async with app.state.runtime.sessions() as session:
        rows = await session.execute(select(outbox.c.event_type).order_by(outbox.c.seq))
        return [r for (r,) in rows]


async def eventually(check, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


@pytest.mark.sqlite
async def test_a_partner_manages_its_own_endpoints_an_admin_all_others_none(app, client) -> None:
    acme, other = partner(app, "acme"), partner(app, "globex")
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["deal.won", "invoice.overdue"], "description": "ERP"}
    r = await client.post(ENDPOINTS, json=body, headers=acme)
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["Location"] == f"{ENDPOINTS}/{created['id']}"
    assert created["secret"].startswith("whsec_") and created["owner"] == "acme"
    assert created["event_types"] == ["deal.won", "invoice.overdue"] and created["enabled"] is True
    r = await client.post(ENDPOINTS, json={"url": "http://127.0.0.1:9/x", "event_types": ["*"]}, headers=other)
    assert r.status_code == 201
    theirs = r.json()["id"]

    listed = (await client.get(ENDPOINTS, headers=acme)).json()
    assert [e["id"] for e in listed["items"]] == [created["id"]] and "secret" not in listed["items"][0]
    assert len((await client.get(ENDPOINTS, headers=admin(app))).json()["items"]) == 2
    page = (await client.get(ENDPOINTS, params={"limit": 1}, headers=admin(app))).json()
    rest = (await client.get(ENDPOINTS, params={"cursor": page["next_cursor"]}, headers=admin(app))).json()
    assert len(page["items"]) == len(rest["items"]) == 1 and page["items"][0]["id"] != rest["items"][0]["id"]

    one = await client.get(f"{ENDPOINTS}/{created['id']}", headers=acme)
    assert one.status_code == 200 and "secret" not in one.json()
    assert (await client.get(f"{ENDPOINTS}/{theirs}", headers=acme)).status_code == 404
    assert (await client.get(f"{ENDPOINTS}/{theirs}", headers=admin(app))).status_code == 200
    for headers in (user(app, "rep1", "sales_rep"), user(app, "manager", "sales_manager")):
        assert (await client.get(ENDPOINTS, headers=headers)).status_code == 403
        assert (await client.post(ENDPOINTS, json=body, headers=headers)).status_code == 403

    r = await client.patch(f"{ENDPOINTS}/{created['id']}", json={"ordered": True, "event_types": ["*"]}, headers=acme)
    assert r.status_code == 200 and r.json()["ordered"] is True and r.json()["version"] == 2
    assert (await client.patch(f"{ENDPOINTS}/{theirs}", json={"ordered": True}, headers=acme)).status_code == 404
    assert (await client.delete(f"{ENDPOINTS}/{theirs}", headers=acme)).status_code == 404
    assert (await client.delete(f"{ENDPOINTS}/{created['id']}", headers=acme)).status_code == 204
    assert (await client.get(f"{ENDPOINTS}/{created['id']}", headers=acme)).status_code == 404
    assert await published(app) == [
        "webhook_endpoint.created",
        "webhook_endpoint.created",
        "webhook_endpoint.updated",
        "webhook_endpoint.deleted",
    ]


@pytest.mark.sqlite
async def test_event_types_are_the_published_ones_or_a_star(app, client) -> None:
    for types in (["deal.wonn"], ["notification.sent"], ["deal.won", "nope"]):
        r = await client.post(ENDPOINTS, json={"url": "http://127.0.0.1:9/", "event_types": types}, headers=admin(app))
        assert r.status_code == 422, types
        assert [e["field"] for e in r.json()["errors"]] == ["event_types"]
    r = await client.post(ENDPOINTS, json={"url": "http://127.0.0.1:9/", "event_types": []}, headers=admin(app))
    assert r.status_code == 422


@pytest.mark.sqlite
async def test_urls_reaching_inside_are_refused(databases, backend) -> None:
    app = await make_app(databases, backend, webhook_allow_loopback=False, webhook_require_https=True)
    async with running(app) as client:
        for url in (
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.1/hook",
            "https://localhost/hook",  # resolves to 127.0.0.1
            "https://[::1]/hook",
            "https://[fd00:ec2::254]/",
            "http://8.8.8.8/hook",  # not https
            "ftp://8.8.8.8/",
        ):
            r = await client.post(ENDPOINTS, json={"url": url, "event_types": ["*"]}, headers=partner(app))
            assert r.status_code == 422, url
            assert [e["field"] for e in r.json()["errors"]] == ["url"], url
        r = await client.post(
            ENDPOINTS, json={"url": "https://8.8.8.8/hook", "event_types": ["*"]}, headers=partner(app)
        )
        assert r.status_code == 201
        # Changing to an inside address is refused the same way.
        r = await client.patch(f"{ENDPOINTS}/{r.json()['id']}", json={"url": "https://10.1.2.3/"}, headers=partner(app))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "url"


@pytest.mark.sqlite
async def test_an_operator_allowlist_admits_a_private_network(databases, backend) -> None:
    app = await make_app(databases, backend, webhook_allow_loopback=False, webhook_allowed_networks=["10.20.0.0/16"])
    async with running(app) as client:
        ok = await client.post(ENDPOINTS, json={"url": "http://10.20.1.2/h", "event_types": ["*"]}, headers=admin(app))
        no = await client.post(ENDPOINTS, json={"url": "http://10.21.1.2/h", "event_types": ["*"]}, headers=admin(app))
    assert (ok.status_code, no.status_code) == (201, 422)


async def test_the_worker_refuses_at_connect_time_what_the_url_check_would(databases, backend) -> None:
    """DNS rebinding: an endpoint saved while its host was allowed is checked again at the
    connection (here the policy changed under it, as a DNS answer could)."""
    async with receiving() as receiver:
        app = await make_app(databases, backend, webhook_retry_schedule=[60.0])
        async with running(app) as client:
            created = (
                await client.post(ENDPOINTS, json={"url": receiver.url, "event_types": ["*"]}, headers=partner(app))
            ).json()
            engine = app.state.webhooks
            engine.lanes.backend.policy = AddressPolicy(allow_loopback=False)  # every lane's connections
            await client.post(f"{ENDPOINTS}/{created['id']}/test", headers=partner(app))

            async def attempted():  # type: ignore[no-untyped-def]
                page = await client.get(f"{ENDPOINTS}/{created['id']}/deliveries", headers=partner(app))
                items = page.json()["items"]
                # The attempt is recorded before the send and its outcome after: wait for the outcome.
                done = items and items[0]["status"] == "pending" and items[0]["attempts"]
                return items if done and items[0]["attempts"][0]["error"] is not None else None

            items = await eventually(attempted)
    assert receiver.received == []
    assert "loopback" in items[0]["attempts"][0]["error"] and items[0]["status"] == "pending", items


@pytest.mark.sqlite
async def test_deliveries_are_signed_and_a_rotation_signs_with_both_secrets(app, client) -> None:
    async with receiving() as receiver:
        r = await client.post(ENDPOINTS, json={"url": receiver.url, "event_types": ["deal.won"]}, headers=partner(app))
        endpoint = r.json()
        old = endpoint["secret"]
        r = await client.post(f"{ENDPOINTS}/{endpoint['id']}/test", headers=partner(app))
        assert r.status_code == 202 and r.json()["status"] == "pending"
        first = (await receiver.wait_for(1))[0]
        event = Webhook(old).verify(first.body, first.headers)
        assert event["type"] == "webhook.test" and first.headers["webhook-id"].startswith("msg_")
        assert first.headers["webhook-signature"].count("v1,") == 1
        assert "webhook-replay" not in first.headers

        r = await client.post(f"{ENDPOINTS}/{endpoint['id']}/rotate-secret", headers=partner(app))
        assert r.status_code == 200
        new = r.json()["secret"]
        assert new != old and new.startswith("whsec_")
        expires = datetime.fromisoformat(r.json()["previous_secret_expires_at"])
        assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)
        await client.post(f"{ENDPOINTS}/{endpoint['id']}/test", headers=partner(app))
        second = (await receiver.wait_for(2))[1]
    assert second.headers["webhook-signature"].count("v1,") == 2
    for secret in (old, new):  # a receiver with either secret accepts it
        assert Webhook(secret).verify(second.body, second.headers)["type"] == "webhook.test"
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(second.body, second.headers)


@pytest.mark.sqlite
async def test_a_500_is_retried_with_the_same_webhook_id_and_both_attempts_are_listed(databases, backend) -> None:
    answers = iter([500])

    def answer(_: Received) -> int:
        return next(answers, 200)

    async with receiving(answer) as receiver:
        app = await make_app(databases, backend, webhook_retry_schedule=[0.2])
        async with running(app) as client:
            endpoint = (
                await client.post(ENDPOINTS, json={"url": receiver.url, "event_types": ["*"]}, headers=partner(app))
            ).json()
            await client.post(f"{ENDPOINTS}/{endpoint['id']}/test", headers=partner(app))
            got = await receiver.wait_for(2)

            async def settled():  # type: ignore[no-untyped-def]
                page = (await client.get(f"{ENDPOINTS}/{endpoint['id']}/deliveries", headers=partner(app))).json()
                return page if page["items"][0]["status"] == "delivered" else None

            page = await eventually(settled)
            delivery = page["items"][0]
            assert [g.headers["webhook-id"] for g in got] == [delivery["webhook_id"]] * 2
            assert [a["status_code"] for a in delivery["attempts"]] == [500, 200]
            assert [a["number"] for a in delivery["attempts"]] == [1, 2]
            assert all(a["latency_ms"] is not None and a["finished_at"] for a in delivery["attempts"])
            assert delivery["attempts"][0]["response_body"].startswith("answer 500")
            assert len(delivery["attempts"][0]["response_body"].encode()) <= 1024

            # Redelivery: again, with the same webhook-id.
            r = await client.post(f"/v1/webhooks/deliveries/{delivery['id']}/redeliver", headers=partner(app))
            assert r.status_code == 202
            got = await receiver.wait_for(3)
            assert got[2].headers["webhook-id"] == delivery["webhook_id"]
            other = partner(app, "globex")
            r = await client.post(f"/v1/webhooks/deliveries/{delivery['id']}/redeliver", headers=other)
            assert r.status_code == 404
            # Past a 64-bit id: refused naming the id (PostgreSQL answered 500 before).
            r = await client.post(f"/v1/webhooks/deliveries/{2**63}/redeliver", headers=partner(app))
            assert r.status_code == 422, r.text
            assert [e["field"] for e in r.json()["errors"]] == ["delivery_id"]


@pytest.mark.sqlite
async def test_410_gone_disables_the_endpoint_and_tells_the_owner_and_admins(app, client) -> None:
    async with receiving(lambda _: 410) as receiver:
        endpoint = (
            await client.post(ENDPOINTS, json={"url": receiver.url, "event_types": ["*"]}, headers=partner(app))
        ).json()
        await client.post(f"{ENDPOINTS}/{endpoint['id']}/test", headers=partner(app))
        await receiver.wait_for(1)

        async def disabled():  # type: ignore[no-untyped-def]
            found = (await client.get(f"{ENDPOINTS}/{endpoint['id']}", headers=partner(app))).json()
            return found if not found["enabled"] else None

        found = await eventually(disabled)
        assert found["disabled_reason"] == "answered 410 Gone"
        await client.post(f"{ENDPOINTS}/{endpoint['id']}/test", headers=partner(app))
        await asyncio.sleep(1.0)
        assert len(receiver.received) == 1  # a disabled endpoint gets nothing
    inbox = (await client.get("/v1/notifications", headers=admin(app))).json()["items"]
    assert [n["type"] for n in inbox] == ["webhook_endpoint.disabled"]
    assert "webhook_endpoint.disabled" in await published(app)


async def test_an_ordered_endpoint_holds_back_only_the_failing_customers_later_events(databases, backend) -> None:
    stuck, free = uuid.uuid4(), uuid.uuid4()

    def answer(got: Received) -> int:
        return 500 if orjson.loads(got.body)["subject"] == str(stuck) else 200

    async with receiving(answer) as receiver:
        app = await make_app(databases, backend, webhook_retry_schedule=[0.3])
        async with running(app) as client:
            r = await client.post(
                ENDPOINTS,
                json={"url": receiver.url, "event_types": ["deal.won"], "ordered": True},
                headers=partner(app),
            )
            assert r.status_code == 201
            sent = []
            for customer in (stuck, free, stuck, free, free):
                sent.append((customer, (await deliver(app, deal_won(customer), subject=customer)).id))
            await receiver.wait_for(6)  # the free customer's three, and the stuck one's first, retried
            await asyncio.sleep(0.5)
            by_subject: dict[str, list[str]] = {}
            for got in receiver.received:
                event = orjson.loads(got.body)
                by_subject.setdefault(event["subject"], []).append(event["id"])
            assert by_subject[str(free)] == [e for c, e in sent if c == free]
            first_stuck = next(e for c, e in sent if c == stuck)
            assert set(by_subject[str(stuck)]) == {first_stuck}  # the second waits behind it
            assert len(by_subject[str(stuck)]) >= 2

            receiver.answer = lambda _: 200  # the receiver recovers: the held one follows, in order
            stuck_ids = [e for c, e in sent if c == stuck]

            def stuck_seen() -> list[str]:
                events = [orjson.loads(g.body) for g in receiver.received]
                return list(dict.fromkeys(e["id"] for e in events if e["subject"] == str(stuck)))

            async def both() -> bool:
                return len(stuck_seen()) == 2

            assert await eventually(both)
            assert stuck_seen() == stuck_ids


@pytest.mark.sqlite
async def test_a_replay_is_a_job_its_owner_can_follow(app, client) -> None:
    endpoint = (
        await client.post(ENDPOINTS, json={"url": "http://127.0.0.1:9/", "event_types": ["*"]}, headers=partner(app))
    ).json()
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    r = await client.post(f"{ENDPOINTS}/{endpoint['id']}/replay", json={"from": since}, headers=partner(app))
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["Location"] == f"{ENDPOINTS}/{endpoint['id']}/replays/{job['id']}"
    assert job["status"] == "running" and datetime.fromisoformat(job["since"]) == datetime.fromisoformat(since)
    r = await client.get(r.headers["Location"], headers=partner(app))
    assert r.status_code == 200 and r.json()["id"] == job["id"]
    assert (await client.get(r.request.url.path, headers=partner(app, "globex"))).status_code == 404
    naive = {"from": datetime.now().replace(tzinfo=None).isoformat()}
    r = await client.post(f"{ENDPOINTS}/{endpoint['id']}/replay", json=naive, headers=partner(app))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "from"
