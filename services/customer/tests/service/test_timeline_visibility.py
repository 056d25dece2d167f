"""Timeline entries keep the read rule of the service each fact came from (issue 17, item 1).

rep1 read, in rep2's customer's timeline, rep2's lost-deal reason and call notes, which sales
answers 404 to rep1. Now an entry a caller could not read at its source is left out: of the
timeline, of the summary the gateway's 360 view is made of, and of the churn risk's lost reasons.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal

import httpx
from fastapi import FastAPI

from services.customer.tests.helpers import NOW, create, deliver, payment, survey, ticket_opened
from tessera_customer.handlers import EFFECTS
from tessera_customer.timeline.visibility import (
    ABOUT_A_FACT,
    ACTIVITIES,
    CREDIT,
    DEALS,
    INVOICES,
    LEADS,
    PAYMENTS,
    RULES,
    SURVEYS,
    TICKETS,
    WRITE_OFFS,
)
from tessera_shared.auth import Role
from tessera_shared.events.contracts import ActivityLogged, DealLost, InvoiceIssued, NotificationFailed
from tessera_shared.events.contracts.notifications import EmailUnsubscribed
from tessera_shared.testing.plugin import bearer

REP2_SECRET = "rep2's price was 40% over the competitor's"
REP2_NOTES = "rep2's call notes: the CFO is leaving"


async def seeded(client: httpx.AsyncClient, app: FastAPI) -> str:
    """rep2's customer, with rep2's lost deal and call, rep1's lost deal, and facts from the desk and billing."""
    customer = await create(client, app, who=("rep2", "sales_rep"))
    cid = uuid.UUID(customer["id"])
    await deliver(
        app,
        DealLost(
            deal_id=uuid.uuid4(),
            customer_id=cid,
            amount=Decimal(50),
            currency="EUR",
            reason=REP2_SECRET,
            owner_id="rep2",
            lost_at=NOW,
        ),
    )
    await deliver(
        app,
        ActivityLogged(
            activity_id=uuid.uuid4(),
            kind="call",
            subject=REP2_NOTES,
            customer_id=cid,
            owner_id="rep2",
            occurred_at=NOW + timedelta(minutes=1),
        ),
    )
    await deliver(
        app,
        DealLost(
            deal_id=uuid.uuid4(),
            customer_id=cid,
            amount=Decimal(70),
            currency="EUR",
            reason="rep1's own: timing",
            owner_id="rep1",
            lost_at=NOW + timedelta(minutes=2),
        ),
    )
    await deliver(
        app,
        DealLost(
            deal_id=uuid.uuid4(),
            customer_id=cid,
            amount=Decimal(80),
            currency="EUR",
            reason="nobody's",
            owner_id=None,
            lost_at=NOW + timedelta(minutes=3),
        ),
    )
    await deliver(app, ticket_opened(str(cid)))
    await deliver(app, survey(str(cid), 2))
    await deliver(
        app,
        InvoiceIssued(
            invoice_id=uuid.uuid4(),
            number="INV-7",
            customer_id=cid,
            total=Decimal(10),
            currency="EUR",
            issue_date=NOW.date(),
            due_date=NOW.date(),
            issued_at=NOW,
        ),
    )
    await deliver(app, payment(str(cid), "10.00"))
    return str(cid)


async def timeline_of(client: httpx.AsyncClient, app: FastAPI, cid: str, who: tuple[str, ...]) -> list[dict]:
    """Every entry the caller may read, walked two at a time (the filter and the cursor together)."""
    items, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await client.get(f"/v1/customers/{cid}/timeline", params=params, headers=bearer(app, *who))
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        if not (cursor := r.json()["next_cursor"]):
            return items


def kinds(items: list[dict]) -> list[str]:
    return sorted(i["kind"] for i in items)


async def test_a_rep_reads_only_their_own_sales_facts(app: FastAPI, client: httpx.AsyncClient) -> None:
    cid = await seeded(client, app)
    rep1 = await timeline_of(client, app, cid, ("rep1", "sales_rep"))
    text = str(rep1)
    assert REP2_SECRET not in text and REP2_NOTES not in text and "nobody's" not in text
    assert [i["data"]["reason"] for i in rep1 if i["kind"] == "deal.lost"] == ["rep1's own: timing"]
    # What the rep reads at the desk and at billing; not surveys (desk staff) nor payments (billing).
    assert kinds(rep1) == ["customer.created", "deal.lost", "invoice.issued", "ticket.opened"]

    rep2 = await timeline_of(client, app, cid, ("rep2", "sales_rep"))
    assert kinds(rep2) == ["activity.logged", "customer.created", "deal.lost", "invoice.issued", "ticket.opened"]
    assert REP2_SECRET in str(rep2) and REP2_NOTES in str(rep2) and "rep1's own" not in str(rep2)


async def test_each_role_reads_what_its_source_lets_it(app: FastAPI, client: httpx.AsyncClient) -> None:
    cid = await seeded(client, app)
    everything = [
        "activity.logged",
        "customer.created",
        "deal.lost",
        "deal.lost",
        "deal.lost",
        "invoice.issued",
        "payment.received",
        "survey.answered",
        "ticket.opened",
    ]
    assert kinds(await timeline_of(client, app, cid, ("a", "admin"))) == everything
    assert kinds(await timeline_of(client, app, cid, ("m", "sales_manager"))) == everything
    assert kinds(await timeline_of(client, app, cid, ("f", "finance_manager"))) == [
        "customer.created",
        "deal.lost",
        "deal.lost",
        "deal.lost",
        "invoice.issued",
        "payment.received",
        "ticket.opened",
    ]
    assert kinds(await timeline_of(client, app, cid, ("g", "support_agent"))) == [
        "customer.created",
        "invoice.issued",
        "survey.answered",
        "ticket.opened",
    ]
    assert kinds(await timeline_of(client, app, cid, ("c", "billing_clerk"))) == [
        "customer.created",
        "invoice.issued",
        "payment.received",
        "ticket.opened",
    ]
    # The kind filter still narrows what the caller may read, and never widens it.
    r = await client.get(
        f"/v1/customers/{cid}/timeline", params={"kind": "deal.lost"}, headers=bearer(app, "rep1", "sales_rep")
    )
    assert [i["data"]["owner_id"] for i in r.json()["items"]] == ["rep1"]


async def test_the_summary_and_churn_risk_follow_the_same_rule(app: FastAPI, client: httpx.AsyncClient) -> None:
    cid = await seeded(client, app)
    rep1 = bearer(app, "rep1", "sales_rep")
    summary = await client.get(f"/v1/customers/{cid}/summary", headers=rep1)
    assert summary.status_code == 200, summary.text
    assert REP2_SECRET not in summary.text and REP2_NOTES not in summary.text
    assert summary.json()["last_csat"] is None  # surveys are desk staff's
    assert summary.json()["churn_risk"]["lost_reasons"] == {"rep1's own: timing": 1}
    risk = (await client.get(f"/v1/customers/{cid}/churn-risk", headers=rep1)).json()
    assert (risk["lost_deals"], risk["lost_reasons"]) == (1, {"rep1's own: timing": 1})
    agent = (await client.get(f"/v1/customers/{cid}/churn-risk", headers=bearer(app, "g", "support_agent"))).json()
    assert (agent["lost_deals"], agent["lost_reasons"]) == (0, {})
    manager = (await client.get(f"/v1/customers/{cid}/churn-risk", headers=bearer(app, "m", "sales_manager"))).json()
    assert manager["lost_deals"] == 3 and REP2_SECRET in manager["lost_reasons"]
    boss = await client.get(f"/v1/customers/{cid}/summary", headers=bearer(app, "m", "sales_manager"))
    assert REP2_SECRET in boss.text and boss.json()["last_csat"] == 2


def test_every_recorded_fact_has_a_rule() -> None:
    assert {model.event_type for model in EFFECTS} == set(RULES) | ABOUT_A_FACT


def test_the_rules_mirror_the_source_services() -> None:
    """The role lists here are copies: this fails when a source service changes its own."""
    from tessera_billing.api import CREDIT_READERS
    from tessera_billing.invoices.router import READERS as invoice_readers
    from tessera_billing.payments.router import READERS as payment_readers
    from tessera_billing.writeoffs.router import READERS as write_off_readers
    from tessera_sales.activities.router import SELLERS as activity_readers
    from tessera_sales.deals.router import READERS as deal_readers
    from tessera_sales.leads.router import SELLERS as lead_readers
    from tessera_sales.ownership import SEE_ALL
    from tessera_service_desk.surveys.router import STAFF_READERS
    from tessera_service_desk.tickets.router import READERS as ticket_readers

    def without_admin(roles: Iterable[Role]) -> frozenset[Role]:
        return frozenset(roles) - {Role.ADMIN}

    assert DEALS.readers == without_admin(deal_readers)
    assert LEADS.readers == without_admin(lead_readers)
    assert ACTIVITIES.readers == without_admin(activity_readers)
    assert DEALS.all_owners == LEADS.all_owners == ACTIVITIES.all_owners == without_admin(SEE_ALL)
    assert TICKETS.readers == without_admin(ticket_readers) and TICKETS.all_owners is None
    assert SURVEYS.readers == without_admin(STAFF_READERS)
    assert INVOICES.readers == without_admin(invoice_readers)
    assert PAYMENTS.readers == without_admin(payment_readers)
    assert WRITE_OFFS.readers == without_admin(write_off_readers) and WRITE_OFFS.all_owners is None
    assert CREDIT.readers == without_admin(CREDIT_READERS) and CREDIT.all_owners is None


async def test_a_failed_e_mail_is_read_under_the_rule_of_the_fact_it_was_about(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    cid = (await create(client, app))["id"]

    def failed(source_type: str, recipient_kind: str = "customer") -> NotificationFailed:
        return NotificationFailed(
            notification_id=uuid.uuid4(),
            channel="email",
            recipient_kind=recipient_kind,  # type: ignore[arg-type]
            recipient=cid if recipient_kind == "customer" else "rep1",
            source_type=source_type,
            source_event_id=str(uuid.uuid4()),
            customer_id=uuid.UUID(cid),
            reason="550 5.1.1 no such mailbox",
            failed_at=NOW,
        )

    await deliver(app, failed("dunning.step"))  # billing's invoices: every staff role reads them
    await deliver(app, failed("survey.answered"))  # the desk's surveys: agents and sales managers
    await deliver(app, failed("deal.won"))  # sales' deals: a rep only their own (no owner named here)
    await deliver(app, failed("dunning.step", "user"))  # a staff member's mailbox: no customer fact

    async def sources(*who: str) -> list[str]:
        items = await timeline_of(client, app, cid, who)
        return sorted(i["data"]["source_type"] for i in items if i["kind"] == "notification.failed")

    assert await sources("admin", "admin") == ["deal.won", "dunning.step", "survey.answered"]
    assert await sources("m", "sales_manager") == ["deal.won", "dunning.step", "survey.answered"]
    assert await sources("g", "support_agent") == ["dunning.step", "survey.answered"]
    assert await sources("bc", "billing_clerk") == ["dunning.step"]
    assert await sources("rep1", "sales_rep") == ["dunning.step"]
    [entry] = [
        i for i in await timeline_of(client, app, cid, ("bc", "billing_clerk")) if i["source"] == "notifications"
    ]
    assert entry["summary"] == "E-mail about dunning.step not delivered: 550 5.1.1 no such mailbox"


async def test_a_refusal_of_survey_e_mails_is_on_the_timeline_for_the_surveys_readers(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """A customer who unsubscribed from survey invitations (the notifications service's
    ``email.unsubscribed``) is a timeline entry that those who read surveys see."""
    cid = (await create(client, app))["id"]
    refusal = EmailUnsubscribed(customer_id=uuid.UUID(cid), purpose="surveys", unsubscribed_at=NOW)
    await deliver(app, refusal)
    await deliver(app, refusal)  # redelivered: one entry

    async def refusals(*who: str) -> list[dict]:
        return [i for i in await timeline_of(client, app, cid, who) if i["kind"] == "email.unsubscribed"]

    for who in (("admin", "admin"), ("g", "support_agent"), ("m", "sales_manager")):
        [entry] = await refusals(*who)
        assert entry["summary"] == "Unsubscribed from surveys e-mails (by the link in an e-mail)"
        assert entry["source"] == "notifications"
    for who in (("bc", "billing_clerk"), ("rep1", "sales_rep"), ("f", "finance_manager")):
        assert await refusals(*who) == [], who
