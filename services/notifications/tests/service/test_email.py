"""E-mail over real SMTP (an aiosmtpd server on loopback): staff e-mail by preference, dunning
letters to customers, retries of temporary failures, one recorded permanent failure, the same
Message-ID on every attempt, and nothing left of an erased customer's address."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
from notifications_helpers import MailSink, activity_due, deliver, make_app, user
from prometheus_client import REGISTRY
from sqlalchemy import select

from tessera_notifications.email.models import CustomerContact, EmailMessage
from tessera_notifications.email.service import Mailer, _claim, send_due
from tessera_shared.db import read_session
from tessera_shared.events.contracts import CustomerCreated, CustomerErased, DunningStep, TicketClosed
from tessera_shared.infra_tables import outbox
from tessera_shared.testing.plugin import running


def sent_total(channel: str) -> float:
    return REGISTRY.get_sample_value("tessera_notifications_sent_total", {"channel": channel}) or 0.0


async def rows(app) -> list[EmailMessage]:
    async with read_session(app.state.runtime.sessions) as session:
        return list((await session.execute(select(EmailMessage).order_by(EmailMessage.created_at))).scalars())


async def facts(app) -> list[tuple[str, str]]:
    async with read_session(app.state.runtime.sessions) as session:
        found = await session.execute(select(outbox.c.event_type, outbox.c.envelope).order_by(outbox.c.seq))
        return [(t, e) for t, e in found.all() if '"channel":"email"' in e]


async def send(app, now: datetime | None = None) -> dict[str, int]:
    settings = app.state.settings
    return await send_due(app.state.runtime.sessions, now or datetime.now(UTC), settings, Mailer(settings))


async def wants_email(client, app, rep: str, **preference: str) -> None:
    """``rep`` (a sales rep) asks for activity.due in the app and by e-mail (``preference``: more)."""
    item = {"event_type": "activity.due", "in_app": True, "email": True, **preference}
    put = await client.put("/v1/notification-preferences", json={"items": [item]}, headers=user(app, rep, "sales_rep"))
    assert put.status_code == 200, put.text


def dunning(customer_id: uuid.UUID, step: int = 1) -> DunningStep:
    return DunningStep(
        invoice_id=uuid.uuid4(),
        number="INV-2026-0042",
        customer_id=customer_id,
        step=step,
        days_overdue=15,
        action="reminder",
        amount_due=Decimal("1234.50"),
        currency="EUR",
        occurred_at=datetime.now(UTC),
    )


@pytest.mark.sqlite
async def test_staff_email_by_preference_once_with_a_stable_message_id(databases, backend) -> None:
    with MailSink() as sink:
        app = await make_app(databases, backend, smtp_port=sink.port)
        async with running(app) as client:
            await wants_email(client, app, "rep1")
            event = await deliver(app, activity_due("rep1", "Call Acme"))
            await deliver(app, activity_due("rep2", "rep2 asked for no e-mail"))
            before = sent_total("email")
            assert await send(app) == {"sent": 1}
            assert sent_total("email") == before + 1
            metrics = (await client.get("/metrics")).text
            assert "tessera_notifications_email_queue" in metrics
            assert 'tessera_notifications_delivery_seconds_count{channel="in_app"}' in metrics
            assert await send(app) == {}  # nothing twice
            # A redelivered fact writes no second message.
            handler = app.state.runtime.spec.handlers[event.type]
            from tessera_shared.db import unit_of_work

            async with unit_of_work(app.state.runtime.sessions) as session:
                await handler(session, event, event.typed_data())
            assert len(await rows(app)) == 1 and await send(app) == {}

        (message,) = sink.messages
        (row,) = await rows(app)
        assert message["To"] == "rep1@tessera.local" and message["Subject"] == "Reminder: Call Acme"
        assert message["Message-ID"] == row.message_id and row.status == "sent" and row.attempts == 1
        parts = {p.get_content_type(): p.get_content() for p in message.iter_parts()}
        assert "Call Acme" in parts["text/plain"] and "<h1>Reminder: Call Acme</h1>" in parts["text/html"]
        assert "http://127.0.0.1:8000/api/v1/activities/" in parts["text/plain"]
        assert [t for t, _ in await facts(app)] == ["notification.sent"]


async def test_a_rounds_outcomes_are_recorded_together_each_with_its_fact(databases, backend) -> None:
    """email_record_batch: outcomes recorded a few per transaction, each row and fact as alone."""
    with MailSink() as sink:
        app = await make_app(databases, backend, smtp_port=sink.port, email_record_batch=2)
        async with running(app) as client:
            await wants_email(client, app, "rep1")
            for i in range(5):
                await deliver(app, activity_due("rep1", f"Call {i}"))
            assert await send(app) == {"sent": 5} and await send(app) == {}
    assert len(sink.messages) == 5
    assert {(r.status, r.attempts) for r in await rows(app)} == {("sent", 1)}
    sent = [e for t, e in await facts(app) if t == "notification.sent"]
    assert len(sent) == 5 and len(set(sent)) == 5


async def test_a_temporary_failure_is_retried_with_backoff_and_the_same_message_id(databases, backend) -> None:
    with MailSink() as sink:
        app = await make_app(databases, backend, smtp_port=sink.port, email_backoff_seconds=60)
        customer_id = uuid.uuid4()
        async with running(app):
            await deliver(app, customer_created(customer_id, "ada@example.com"))
            await deliver(app, dunning(customer_id))
            sink.fail_next = 1
            now = datetime.now(UTC)
            assert await send(app, now) == {"pending": 1}
            (row,) = await rows(app)
            assert (row.status, row.attempts, row.last_error) == ("pending", 1, "451 4.3.0 try again later")
            assert row.next_attempt_at >= now + timedelta(seconds=59)
            assert await send(app, now + timedelta(seconds=30)) == {}  # not yet
            assert await send(app, now + timedelta(seconds=61)) == {"sent": 1}
        (message,) = sink.messages
        (row,) = await rows(app)
        assert (row.status, row.attempts, message["Message-ID"]) == ("sent", 2, row.message_id)


async def test_a_permanent_failure_is_recorded_once(databases, backend) -> None:
    with MailSink() as sink:
        sink.refused.add("gone@example.com")
        app = await make_app(databases, backend, smtp_port=sink.port)
        customer_id = uuid.uuid4()
        async with running(app):
            await deliver(app, customer_created(customer_id, "gone@example.com"))
            await deliver(app, dunning(customer_id))
            assert await send(app) == {"failed": 1}
            assert await send(app, datetime.now(UTC) + timedelta(days=1)) == {}
            (row,) = await rows(app)
            assert row.status == "failed" and "550" in (row.last_error or "")
            assert [t for t, _ in await facts(app)] == ["notification.failed"]
        assert sink.messages == []


async def test_an_attempt_cut_off_before_its_record_is_made_again_with_the_same_id(databases, backend) -> None:
    """kill -9 between the server's acceptance and the record: the attempt was committed first, so
    the message is sent again after email_attempt_timeout, same Message-ID (the at-least-once edge)."""
    with MailSink() as sink:
        app = await make_app(databases, backend, smtp_port=sink.port, email_attempt_timeout=60)
        customer_id = uuid.uuid4()
        async with running(app):
            await deliver(app, customer_created(customer_id, "ada@example.com"))
            await deliver(app, dunning(customer_id))
            now = datetime.now(UTC)
            (claimed,) = await _claim(app.state.runtime.sessions, now, app.state.settings)  # then the process dies
            assert await send(app, now + timedelta(seconds=30)) == {}  # still "sending": not yet
            assert await send(app, now + timedelta(seconds=61)) == {"sent": 1}
        (row,) = await rows(app)
        assert (row.attempts, sink.messages[0]["Message-ID"]) == (2, claimed.message_id)


@pytest.mark.sqlite
async def test_dunning_letters_reach_the_customer_and_erasure_leaves_no_address(databases, backend) -> None:
    with MailSink() as sink:
        app = await make_app(databases, backend, smtp_port=sink.port, customer_locale="zh")
        customer_id, silent = uuid.uuid4(), uuid.uuid4()
        async with running(app):
            await deliver(app, customer_created(customer_id, "ada@example.com", "Ada GmbH"))
            await deliver(app, customer_created(silent, None))
            await deliver(app, dunning(customer_id, step=1))
            await deliver(app, dunning(silent))  # no address: no letter
            assert await send(app) == {"sent": 1}
            await deliver(app, dunning(customer_id, step=2))  # pending when the erasure comes
            await deliver(app, CustomerErased(customer_id=customer_id, requested_by="dpo", erased_at=datetime.now(UTC)))
            assert await send(app) == {}
            async with read_session(app.state.runtime.sessions) as session:
                contact = await session.get(CustomerContact, customer_id)
            stored = await rows(app)
        (letter,) = sink.messages
        assert letter["To"] == "ada@example.com" and "INV-2026-0042" in letter["Subject"]
        text = letter.get_body(("plain",)).get_content()
        assert "尊敬的 Ada GmbH" in text and "1234.50 EUR" in text and "15 天" in text
        assert letter["List-Unsubscribe"] is None  # a service message: nothing to unsubscribe from
        assert contact is not None and contact.email is None
        assert {r.status for r in stored} == {"erased"}
        assert not any("ada@example.com" in (r.to_address + r.text_body + r.html_body) for r in stored)


def customer_created(customer_id: uuid.UUID, address: str | None, name: str = "Acme GmbH") -> CustomerCreated:
    return CustomerCreated(
        customer_id=customer_id,
        kind="organization",
        name=name,
        email=address,
        owner_id="rep1",
        status="active",
        created_at=datetime.now(UTC),
    )


def ticket_closed(customer_id: uuid.UUID, survey_id: uuid.UUID | None = None) -> TicketClosed:
    survey_id = survey_id or uuid.uuid4()
    return TicketClosed(
        ticket_id=uuid.uuid4(),
        customer_id=customer_id,
        category="inquiry",
        priority="normal",
        opened_at=datetime.now(UTC),
        closed_at=datetime.now(UTC),
        survey_id=survey_id,
        survey_url=f"/api/v1/surveys/{survey_id}?token=t0k3n",
    )


@pytest.mark.sqlite
async def test_the_survey_invitation_carries_its_link_and_an_unsubscribe_link_that_works(databases, backend) -> None:
    with MailSink() as sink:
        app = await make_app(databases, backend, smtp_port=sink.port, public_url="https://crm.example.com")
        customer_id = uuid.uuid4()
        async with running(app) as client:
            await deliver(app, customer_created(customer_id, "ada@example.com", "Ada GmbH"))
            closed = ticket_closed(customer_id)
            await deliver(app, closed)
            assert await send(app) == {"sent": 1}
            (invitation,) = sink.messages
            text = invitation.get_body(("plain",)).get_content()
            assert f"https://crm.example.com/api/v1/surveys/{closed.survey_id}?token=t0k3n" in text
            unsubscribe = invitation["List-Unsubscribe"].strip("<>")
            assert unsubscribe.startswith(
                f"https://crm.example.com/api/v1/email-unsubscribe/{customer_id}/surveys?token="
            )
            assert invitation["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" and unsubscribe in text

            path = unsubscribe.removeprefix("https://crm.example.com/api")
            forged = path[:-4] + "0000"
            assert (await client.get(forged)).status_code == 403
            # A GET changes nothing (mail scanners fetch every link): it tells, and a browser gets
            # the button that POSTs. No token of any account: the link is the credential.
            clicked = await client.get(path)
            assert clicked.status_code == 200 and clicked.json() == {
                "customer_id": str(customer_id),
                "purpose": "surveys",
                "unsubscribed": False,
            }
            browser = await client.get(path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
            assert browser.headers["content-type"].startswith("text/html")
            assert '<form method="post">' in browser.text and "<button" in browser.text
            await deliver(app, ticket_closed(customer_id))
            assert await send(app) == {"sent": 1}  # the GETs unsubscribed no one

            one_click = await client.post(path, content=b"List-Unsubscribe=One-Click")  # RFC 8058
            assert one_click.status_code == 200 and one_click.json()["unsubscribed"] is True
            assert (await client.get(path)).json()["unsubscribed"] is True
            done = await client.post(path, headers={"Accept": "text/html"})  # the page's button, again
            assert done.status_code == 200 and "no more survey invitations" in done.text and "<form" not in done.text
            # The refusal is a fact others see (the customer's timeline, partners): announced once.
            async with read_session(app.state.runtime.sessions) as session:
                found = await session.execute(
                    select(outbox.c.key, outbox.c.envelope).where(outbox.c.event_type == "email.unsubscribed")
                )
                [(key, envelope)] = found.all()
            fact = orjson.loads(envelope)["data"]
            assert key == str(customer_id) and (fact["customer_id"], fact["purpose"]) == (str(customer_id), "surveys")
            assert fact["unsubscribed_at"] is not None
            await deliver(app, ticket_closed(customer_id))
            assert await send(app) == {}
        assert len(sink.messages) == 2


@pytest.mark.sqlite
async def test_the_daily_digest_gathers_a_users_notifications_into_one_email(databases, backend) -> None:
    from tessera_notifications.email.digest import send_digests

    with MailSink() as sink:
        app = await make_app(databases, backend, smtp_port=sink.port)
        async with running(app) as client:
            await wants_email(client, app, "rep1", digest="daily")
            for subject in ("First call", "Second call", "Third call"):
                await deliver(app, activity_due("rep1", subject))
            assert await send(app) == {}  # nothing one by one
            sessions, directory = app.state.runtime.sessions, app.state.user_directory
            assert await send_digests(sessions, datetime.now(UTC), app.state.settings, directory) == 1
            assert await send_digests(sessions, datetime.now(UTC), app.state.settings, directory) == 0
            assert await send(app) == {"sent": 1}
            # The inbox has them all the same.
            inbox = (await client.get("/v1/notifications", headers=user(app, "rep1", "sales_rep"))).json()
            assert len(inbox["items"]) == 3
        (digest,) = sink.messages
        text = digest.get_body(("plain",)).get_content()
        assert digest["To"] == "rep1@tessera.local" and digest["Subject"] == "Tessera: 3 notifications"
        assert all(f"Reminder: {s}" in text for s in ("First call", "Second call", "Third call"))


@pytest.mark.sqlite
async def test_a_queued_email_goes_out_at_once_not_at_the_senders_interval(databases, backend) -> None:
    """The handler that queues a message rings the sender job once its transaction commits: the
    e-mail reaches the server within seconds though the job's own interval is an hour (its first
    round falls anywhere in that hour)."""
    with MailSink() as sink:
        app = await make_app(databases, backend, smtp_port=sink.port, jobs_enabled=True, email_job_interval=3600)
        async with running(app) as client:
            await wants_email(client, app, "rep1")
            started = time.monotonic()
            await deliver(app, activity_due("rep1", "Call Acme now"))
            while not sink.messages:
                assert time.monotonic() - started < 5, "the queued e-mail waited for the sender's interval"
                await asyncio.sleep(0.02)
            took = time.monotonic() - started
        print(f"\nqueued e-mail at the server {took * 1000:.0f} ms after its fact was handled (interval 3600 s)")
        assert [m["Subject"] for m in sink.messages] == ["Reminder: Call Acme now"]
