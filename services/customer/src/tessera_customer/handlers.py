"""Reactions to the sales, service-desk, billing and notifications facts (docs/domain.md §6.2).

Each runs in the consumer's transaction beside the inbox row, so it happens once per event id;
each also checks its fact key (deal, invoice, payment, ticket ...) so a re-announced fact with a
new event id has no second effect.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_customer.customers.models import Customer
from tessera_customer.loyalty.service import earn_points, redeem_for_invoice, restore_points
from tessera_customer.settings import CustomerSettings
from tessera_customer.timeline import service as timeline
from tessera_customer.timeline.models import TimelineEntry
from tessera_customer.value.service import Purchases, record_payment, record_purchase, refresh_risk, signals_of
from tessera_shared.consumer import Batched, Handler, PermanentError
from tessera_shared.db import utcnow
from tessera_shared.events import CloudEvent, EventData
from tessera_shared.events.contracts import (
    ActivityLogged,
    CreditLimitExceeded,
    DealCreated,
    DealLost,
    DealStageChanged,
    DealWon,
    DunningStep,
    InvoiceIssued,
    InvoiceOverdue,
    InvoicePaid,
    InvoiceWrittenOff,
    LeadConverted,
    LoyaltyPaymentRequested,
    LoyaltyPaymentReversed,
    LoyaltyPointsRedeemed,
    LoyaltyRedemptionRefused,
    NotificationFailed,
    PaymentReceived,
    SlaBreached,
    SurveyAnswered,
    TicketClosed,
    TicketEscalated,
    TicketOpened,
)
from tessera_shared.events.contracts.billing import LOYALTY_POINTS_METHOD
from tessera_shared.events.contracts.notifications import EmailUnsubscribed
from tessera_shared.known_customers import ERASED
from tessera_shared.outbox import publish
from tessera_shared.trace_context import continuing

log = logging.getLogger(__name__)

Effect = Callable[[AsyncSession, CustomerSettings, Customer, Any, Purchases], Awaitable[None]]

# Facts per transaction: each locks its customer until the commit (an API write to one waits).
FACTS_PER_TRANSACTION = 64


async def resolve(session: AsyncSession, customer_id: uuid.UUID) -> Customer:
    """The live customer a fact is about, following merges to the survivor."""
    customer = await session.get(Customer, customer_id, with_for_update=True)
    hops = 0
    while customer is not None and customer.merged_into_id is not None and hops < 10:
        customer = await session.get(Customer, customer.merged_into_id, with_for_update=True)
        hops += 1
    if customer is None:
        raise PermanentError(f"unknown customer {customer_id}")
    return customer


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount} {currency}"


# Per event type: the fact key (re-announcement guard), when it happened, and its timeline line.
def _spec(data: EventData) -> tuple[str, datetime, str]:
    match data:
        case DealCreated():
            return (
                str(data.deal_id),
                data.created_at,
                # The deal's own pipeline's stage key when the event has it (the standard value before).
                f"Deal created: {data.title} ({_money(data.amount, data.currency)}, {data.stage_key or data.stage})",
            )
        case DealStageChanged():
            return (
                f"{data.deal_id}:{data.changed_at.isoformat()}",
                data.changed_at,
                f"Deal moved from {data.from_stage_key or data.from_stage} to {data.to_stage_key or data.to_stage}"
                f" ({_money(data.amount, data.currency)})",
            )
        case DealWon():
            return str(data.deal_id), data.won_at, f"Deal won: {data.title} ({_money(data.amount, data.currency)})"
        case DealLost():
            return str(data.deal_id), data.lost_at, f"Deal lost ({_money(data.amount, data.currency)}): {data.reason}"
        case LeadConverted():
            return str(data.lead_id), data.converted_at, f"Lead converted (source {data.source})"
        case ActivityLogged():
            return str(data.activity_id), data.occurred_at, f"{data.kind.capitalize()}: {data.subject}"
        case TicketOpened():
            return (
                str(data.ticket_id),
                data.opened_at,
                f"Ticket opened ({data.priority} {data.category}): {data.subject}",
            )
        case TicketEscalated():
            return (
                f"{data.ticket_id}:{data.level}",
                data.escalated_at,
                f"Ticket escalated to level {data.level}: {data.reason}",
            )
        case TicketClosed():
            return str(data.ticket_id), data.closed_at, f"Ticket closed ({data.category})"
        case SlaBreached():
            return f"{data.ticket_id}:{data.metric}", data.breached_at, f"SLA breached: {data.metric} ({data.priority})"
        case SurveyAnswered():
            return str(data.survey_id), data.answered_at, f"Survey answered: CSAT {data.csat}"
        case InvoiceIssued():
            return (
                str(data.invoice_id),
                data.issued_at,
                f"Invoice {data.number} issued ({_money(data.total, data.currency)})",
            )
        case InvoicePaid():
            return (
                str(data.invoice_id),
                data.paid_at,
                f"Invoice {data.number} paid ({_money(data.total, data.currency)})",
            )
        case InvoiceOverdue():
            return (
                f"{data.invoice_id}:{data.days_overdue}",
                data.detected_at,
                f"Invoice {data.number} overdue {data.days_overdue} days",
            )
        case PaymentReceived():
            return str(data.payment_id), data.received_at, f"Payment received ({_money(data.amount, data.currency)})"
        case DunningStep():
            return (
                f"{data.invoice_id}:{data.step}",
                data.occurred_at,
                f"Dunning step {data.step} ({data.action}) for invoice {data.number}",
            )
        case LoyaltyPaymentRequested():
            return (
                str(data.request_id),
                data.requested_at,
                f"{data.points} points asked for invoice {data.number} ({_money(data.amount, data.currency)})",
            )
        case LoyaltyPaymentReversed():
            return (
                str(data.request_id),
                data.reversed_at,
                f"Points payment on invoice {data.number} reversed ({data.reason}): {data.points} points back",
            )
        case InvoiceWrittenOff():
            return (
                str(data.invoice_id),
                data.written_off_at,
                f"Invoice {data.number} written off ({_money(data.amount, data.currency)})",
            )
        case CreditLimitExceeded():
            return (
                f"{data.deal_id or 'order'}:{data.detected_at.isoformat()}",
                data.detected_at,
                f"Credit limit exceeded: exposure {_money(data.exposure, data.currency)}"
                f" over limit {_money(data.credit_limit, data.currency)}",
            )
        case NotificationFailed():
            # A message to the customer the mail server refused for good (recorded once).
            return (
                str(data.notification_id),
                data.failed_at,
                f"E-mail about {data.source_type} not delivered: {data.reason}"[:500],
            )
        case EmailUnsubscribed():
            # The customer refused a kind of e-mail by its unsubscribe link (announced once).
            return (
                f"{data.purpose}:{data.unsubscribed_at.isoformat()}",
                data.unsubscribed_at,
                f"Unsubscribed from {data.purpose} e-mails (by the link in an e-mail)",
            )
    raise PermanentError(f"no timeline rule for {type(data).__name__}")


async def _deal_won(
    session: AsyncSession, settings: CustomerSettings, c: Customer, d: DealWon, purchases: Purchases
) -> None:
    await record_purchase(
        session,
        settings,
        c,
        key=f"deal:{d.deal_id}",
        source="deal_won",
        amount=d.amount,
        currency=d.currency,
        occurred_at=d.won_at,
        reason="deal_won",
        purchases=purchases,
    )


async def _deal_lost(
    session: AsyncSession, settings: CustomerSettings, c: Customer, d: DealLost, purchases: Purchases
) -> None:
    s = await signals_of(session, c.id)
    s.lost_deals = (s.lost_deals or 0) + 1
    reasons = dict(s.lost_reasons or {})
    reason = ERASED if c.erased_at is not None else d.reason[:100]
    reasons[reason] = int(reasons.get(reason, 0)) + 1
    s.lost_reasons = reasons


async def _activity(
    session: AsyncSession, settings: CustomerSettings, c: Customer, d: ActivityLogged, purchases: Purchases
) -> None:
    if (
        d.owner_id is not None
        and d.owner_id == c.owner_id
        and (c.owner_active_at is None or d.occurred_at > c.owner_active_at)
    ):
        c.owner_active_at = d.occurred_at  # the owner is working the customer: it stays out of the pool


def _signal_list(field: str, add: bool, key_of: Callable[[Any], str]) -> Effect:
    async def effect(
        session: AsyncSession, settings: CustomerSettings, c: Customer, d: Any, purchases: Purchases
    ) -> None:
        s = await signals_of(session, c.id)
        values = [v for v in getattr(s, field) or [] if v != key_of(d)]
        setattr(s, field, [*values, key_of(d)] if add else values)
        await refresh_risk(session, settings, c, s)

    return effect


async def _ticket_closed(
    session: AsyncSession, settings: CustomerSettings, c: Customer, d: TicketClosed, purchases: Purchases
) -> None:
    s = await signals_of(session, c.id)
    s.open_tickets = [t for t in s.open_tickets or [] if t != str(d.ticket_id)]
    s.escalated_tickets = [t for t in s.escalated_tickets or [] if t != str(d.ticket_id)]
    await refresh_risk(session, settings, c, s)


async def _sla_breached(
    session: AsyncSession, settings: CustomerSettings, c: Customer, d: SlaBreached, purchases: Purchases
) -> None:
    s = await signals_of(session, c.id)
    s.sla_breaches = (s.sla_breaches or 0) + 1
    await refresh_risk(session, settings, c, s)


async def _survey(
    session: AsyncSession, settings: CustomerSettings, c: Customer, d: SurveyAnswered, purchases: Purchases
) -> None:
    s = await signals_of(session, c.id)
    s.last_csat = d.csat
    await refresh_risk(session, settings, c, s)


async def _invoice_paid(
    session: AsyncSession, settings: CustomerSettings, c: Customer, d: InvoicePaid, purchases: Purchases
) -> None:
    key = f"deal:{d.deal_id}" if d.deal_id else f"invoice:{d.invoice_id}"
    await record_purchase(
        session,
        settings,
        c,
        key=key,
        source="invoice_paid",
        amount=d.total,
        currency=d.currency,
        occurred_at=d.paid_at,
        reason="purchase",
        purchases=purchases,
    )
    await earn_points(
        session,
        settings,
        c.id,
        invoice_id=d.invoice_id,
        number=d.number,
        amount=d.total - d.paid_with_points,
        currency=d.currency,
        at=d.paid_at,
    )
    s = await signals_of(session, c.id)
    s.overdue_invoices = [i for i in s.overdue_invoices or [] if i != str(d.invoice_id)]
    await refresh_risk(session, settings, c, s)


async def _payment(
    session: AsyncSession, settings: CustomerSettings, c: Customer, d: PaymentReceived, purchases: Purchases
) -> None:
    if d.method != LOYALTY_POINTS_METHOD:  # points are not money received: no lifetime value (§10.5)
        await record_payment(
            session, c, payment_id=d.payment_id, amount=d.amount, currency=d.currency, received_at=d.received_at
        )
    for allocation in d.allocations:
        # The same purchase key as invoice.paid: a paid invoice is counted once, whichever comes first.
        key = f"deal:{allocation.deal_id}" if allocation.deal_id else f"invoice:{allocation.invoice_id}"
        await record_purchase(
            session,
            settings,
            c,
            key=key,
            source="payment",
            amount=allocation.amount,
            currency=d.currency,
            occurred_at=d.received_at,
            reason="purchase",
            purchases=purchases,
        )


async def _loyalty_payment(
    session: AsyncSession, settings: CustomerSettings, c: Customer, d: LoyaltyPaymentRequested, purchases: Purchases
) -> None:
    """Billing asks to pay an invoice with points: redeem them all or refuse (docs/domain.md §10.5)."""
    redeemed, balance = await redeem_for_invoice(
        session, settings, c.id, request_id=d.request_id, number=d.number, points=d.points
    )
    answer: EventData
    if redeemed:
        answer = LoyaltyPointsRedeemed(
            request_id=d.request_id,
            customer_id=d.customer_id,
            invoice_id=d.invoice_id,
            points=d.points,
            balance=balance,
            redeemed_at=utcnow(),
        )
    else:
        answer = LoyaltyRedemptionRefused(
            request_id=d.request_id,
            customer_id=d.customer_id,
            invoice_id=d.invoice_id,
            points=d.points,
            balance=balance,
            reason="insufficient-points",
            refused_at=utcnow(),
        )
    # Keyed by billing's customer id: the answer lands on the partition billing's request came from.
    await publish(session, answer, subject=d.customer_id)


async def _loyalty_reversed(
    session: AsyncSession, settings: CustomerSettings, c: Customer, d: LoyaltyPaymentReversed, purchases: Purchases
) -> None:
    await restore_points(
        session, settings, c.id, request_id=d.request_id, number=d.number, points=d.points, reason=d.reason
    )


async def _nothing(
    session: AsyncSession, settings: CustomerSettings, c: Customer, d: Any, purchases: Purchases
) -> None:
    return None


async def _written_off(
    session: AsyncSession, settings: CustomerSettings, c: Customer, d: InvoiceWrittenOff, purchases: Purchases
) -> None:
    """A written-off invoice is no longer collected: it leaves the overdue signal (as on payment)."""
    s = await signals_of(session, c.id)
    if str(d.invoice_id) in (s.overdue_invoices or []):
        s.overdue_invoices = [i for i in s.overdue_invoices or [] if i != str(d.invoice_id)]
        await refresh_risk(session, settings, c, s)


EFFECTS: dict[type[EventData], Effect] = {
    DealWon: _deal_won,
    DealLost: _deal_lost,
    LeadConverted: _nothing,
    ActivityLogged: _activity,
    TicketOpened: _signal_list("open_tickets", True, lambda d: str(d.ticket_id)),
    TicketEscalated: _signal_list("escalated_tickets", True, lambda d: str(d.ticket_id)),
    TicketClosed: _ticket_closed,
    SlaBreached: _sla_breached,
    SurveyAnswered: _survey,
    InvoiceIssued: _nothing,
    InvoicePaid: _invoice_paid,
    InvoiceOverdue: _signal_list("overdue_invoices", True, lambda d: str(d.invoice_id)),
    PaymentReceived: _payment,
    DunningStep: _nothing,
    # Facts that travel (docs/domain.md §10.6): timeline entries under their source's read rule.
    DealCreated: _nothing,
    DealStageChanged: _nothing,
    InvoiceWrittenOff: _written_off,
    CreditLimitExceeded: _nothing,
    LoyaltyPaymentRequested: _loyalty_payment,
    LoyaltyPaymentReversed: _loyalty_reversed,
    # notifications: an e-mail to the customer that failed for good (shown under its fact's rule).
    NotificationFailed: _nothing,
    # notifications: the customer refused survey invitations by an e-mail's link (staff see it).
    EmailUnsubscribed: _nothing,
}


# Effects that publish events themselves (loyalty's answers and level changes); the others
# publish only the status changes their purchases cause, which a run writes in one INSERT.
PUBLISH_AT_ONCE: frozenset[type[EventData]] = frozenset({InvoicePaid, LoyaltyPaymentRequested, LoyaltyPaymentReversed})


def _about_customer(data: EventData) -> uuid.UUID | None:
    """The customer a fact is a timeline entry of, if any: a failed notification only when the
    message was to the customer (a staff member's mailbox is not the customer's fact)."""
    if isinstance(data, NotificationFailed) and data.recipient_kind != "customer":
        return None
    customer_id: uuid.UUID | None = getattr(data, "customer_id", None)
    return customer_id


def _purchase_of(data: EventData) -> list[tuple[str, datetime]]:
    """The purchases (key, when) a fact may count: what its effect gives ``record_purchase``."""
    match data:
        case DealWon():
            return [(f"deal:{data.deal_id}", data.won_at)]
        case InvoicePaid():
            return [(f"deal:{data.deal_id}" if data.deal_id else f"invoice:{data.invoice_id}", data.paid_at)]
        case PaymentReceived():
            return [
                (f"deal:{a.deal_id}" if a.deal_id else f"invoice:{a.invoice_id}", data.received_at)
                for a in data.allocations
            ]
    return []


@dataclass
class _Run:
    """What a run of facts read at once: the (kind, ref) already on a timeline, the run's
    customers, locked in key order (each fact would lock its customer; in key order, two
    transactions over the same customers do not deadlock), and what their purchases need."""

    seen: set[tuple[str, str]]
    customers: dict[uuid.UUID, Customer]
    purchases: Purchases
    # The facts' timeline lines, written in one INSERT at the run's end (nothing in the run reads them).
    lines: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    async def read(
        cls, session: AsyncSession, settings: CustomerSettings, facts: list[tuple[CloudEvent, EventData, uuid.UUID]]
    ) -> _Run:
        refs = {_spec(data)[0] for _, data, _ in facts}
        rows = await session.execute(
            select(col(TimelineEntry.kind), col(TimelineEntry.ref_id)).where(
                col(TimelineEntry.ref_id).in_(refs), col(TimelineEntry.kind).in_({e.type for e, _, _ in facts})
            )
        )
        locked = await session.scalars(
            select(Customer)
            .where(col(Customer.id).in_({customer_id for _, _, customer_id in facts}))
            .order_by(col(Customer.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        customers = {c.id: c for c in locked}
        # The purchases' keys and windows, read after the lock: only this consumer, under the
        # customer's lock, adds a customer's purchases.
        bought = [(c, purchase) for _, data, c in facts for purchase in _purchase_of(data)]
        live = {c for c, _ in bought if c in customers and customers[c].merged_into_id is None}
        purchases = await Purchases.read(session, settings, [p for _, p in bought], live)
        return cls(
            seen={(kind, ref) for kind, ref in rows if ref is not None}, customers=customers, purchases=purchases
        )

    async def resolve(self, session: AsyncSession, customer_id: uuid.UUID) -> Customer:
        customer = self.customers.get(customer_id)
        if customer is not None and customer.merged_into_id is None:
            return customer  # locked by ``read``
        return await resolve(session, customer_id)


async def _apply(
    session: AsyncSession,
    settings: CustomerSettings,
    run: _Run,
    event: CloudEvent,
    data: EventData,
    customer_id: uuid.UUID,
) -> None:
    ref, occurred_at, summary = _spec(data)
    if (event.type, ref) in run.seen:
        log.info("re-announced fact ignored", extra={"event_id": event.id, "event_type": event.type})
        return
    run.seen.add((event.type, ref))
    customer = await run.resolve(session, customer_id)
    # An erased customer's later facts are recorded as erasure left the earlier ones: the kind
    # and the time, no text (docs/domain.md §10.3).
    erased = customer.erased_at is not None
    run.lines.append(
        timeline.row(
            customer.id,
            event.type,
            event.type if erased else summary,
            occurred_at=occurred_at,
            source=event.source.rsplit("/", 1)[-1],
            ref_id=ref,
            data={} if erased else data.model_dump(mode="json"),
            event_id=event.id,
        )
    )
    purchases = run.purchases
    if type(data) in PUBLISH_AT_ONCE:
        # What the run announced goes first (a customer's events keep their order), then the
        # effect publishes at once, its status changes too.
        await purchases.announce(session)
        purchases = replace(purchases, announcements=None)
    await EFFECTS[type(data)](session, settings, customer, data, purchases)


def facts_handler(settings: CustomerSettings) -> Batched[EventData]:
    """One batched handler for every fact type: the runner hands a poll's facts over as one run
    (runs are cut where the handler changes), which reads the timeline's known refs and locks the
    customers once; each fact is then applied in order, under its own event's trace context."""

    async def apply(session: AsyncSession, events: list[tuple[CloudEvent, EventData]]) -> None:
        facts = [(e, d, c) for e, d in events if (c := _about_customer(d)) is not None]  # else not a customer fact
        if not facts:
            return
        run = await _Run.read(session, settings, facts)
        for event, data, customer_id in facts:
            with continuing(event.traceparent):
                await _apply(session, settings, run, event, data, customer_id)
        await timeline.record_many(session, run.lines)
        await run.purchases.announce(session)

    return Batched(apply, limit=FACTS_PER_TRANSACTION)


def handlers(settings: CustomerSettings) -> dict[str, Handler[Any]]:
    facts = facts_handler(settings)
    return {model.event_type: facts for model in EFFECTS}
