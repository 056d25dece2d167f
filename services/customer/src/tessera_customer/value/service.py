"""Value facts from consumed events, the churn-risk refresh and the periodic recomputation."""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from tessera_customer.customers.models import Customer
from tessera_customer.lifecycle.rules import purchase_steps
from tessera_customer.lifecycle.service import transition
from tessera_customer.settings import CustomerSettings
from tessera_customer.timeline import service as timeline
from tessera_customer.timeline.models import TimelineEntry
from tessera_customer.timeline.visibility import lost_deals_seen_by
from tessera_customer.value import rules, setbased
from tessera_customer.value.models import CustomerSignals, PaymentFact, Purchase, TierChange
from tessera_customer.value.schemas import ChurnRiskOut
from tessera_shared.auth import Principal
from tessera_shared.db import MoneySum, dialect_name, new_id, unit_of_work, utcnow
from tessera_shared.db.retry import or_unavailable, retry_lost_races
from tessera_shared.events.contracts import CustomerTierChanged
from tessera_shared.http.pagination import PageParams, paginate
from tessera_shared.outbox import outbox_row, publish_many


@dataclass
class Purchases:
    """What a run of facts reads of the purchases at once (docs/domain.md 4.5): which of the run's
    purchase keys are counted already, and each of the run's customers' purchase times within
    ``(since, until]``, the reach of any of the run's loyalty windows. ``record_purchase`` keeps
    both up to date with what the run adds, so that a purchase of the run asks nothing of the
    database and its rows wait for the transaction's one flush; a key or a window the run did not
    read (a merged customer's survivor, say) is asked as one purchase alone would ask it."""

    keys: frozenset[str] = frozenset()  # the keys read
    known: set[str] = field(default_factory=set)  # of those, the ones counted (before or by the run)
    times: dict[uuid.UUID, list[datetime]] = field(default_factory=dict)  # the customers read
    since: datetime | None = None
    until: datetime | None = None
    # The run's customer.status_changed rows, published in one INSERT by ``announce`` (None: each
    # is published at once, as a purchase alone publishes it).
    announcements: list[dict[str, Any]] | None = None

    @classmethod
    async def read(
        cls,
        session: AsyncSession,
        settings: CustomerSettings,
        purchases: list[tuple[str, datetime]],
        customer_ids: set[uuid.UUID],
    ) -> Purchases:
        """The keys of ``purchases`` (key, when) already counted, and ``customer_ids``' purchase
        times the run's windows reach: one query."""
        if not purchases:
            return cls(announcements=[])
        keys = frozenset(key for key, _ in purchases)
        since = min(at for _, at in purchases) - timedelta(days=settings.loyal_window_days)
        until = max(at for _, at in purchases)
        at = col(Purchase.occurred_at)
        rows = await session.execute(
            select(col(Purchase.key), col(Purchase.customer_id), at).where(
                or_(
                    col(Purchase.key).in_(keys),
                    and_(col(Purchase.customer_id).in_(customer_ids), at > since, at <= until),
                )
            )
        )
        times: dict[uuid.UUID, list[datetime]] = {customer_id: [] for customer_id in customer_ids}
        known: set[str] = set()
        for key, customer_id, occurred_at in rows:
            if key in keys:
                known.add(key)
            if customer_id in times and since < occurred_at <= until:
                times[customer_id].append(occurred_at)
        return cls(keys, known, times, since, until, [])

    async def announce(self, session: AsyncSession) -> None:
        """Publish what the run announced so far (before anything it publishes at once, and at its end)."""
        if self.announcements:
            await publish_many(session, self.announcements)
            self.announcements = []

    def counted(self, key: str) -> bool | None:
        """Whether ``key`` is counted; None when the run did not read it."""
        return key in self.known if key in self.keys else None

    def in_window(self, customer_id: uuid.UUID, start: datetime, end: datetime) -> int | None:
        """The customer's purchases in ``(start, end]``; None when the run did not read them all."""
        times = self.times.get(customer_id)
        if times is None or self.since is None or self.until is None or start < self.since or end > self.until:
            return None
        return sum(1 for t in times if start < t <= end)

    def add(self, customer_id: uuid.UUID, key: str, occurred_at: datetime) -> None:
        if key in self.keys:
            self.known.add(key)
        times = self.times.get(customer_id)
        if (
            times is not None
            and self.since is not None
            and self.until is not None
            and self.since < occurred_at <= self.until
        ):
            times.append(occurred_at)


async def record_purchase(
    session: AsyncSession,
    settings: CustomerSettings,
    customer: Customer,
    *,
    key: str,
    source: str,
    amount: Decimal,
    currency: str,
    occurred_at: datetime,
    reason: str,
    purchases: Purchases | None = None,
) -> bool:
    """Count a purchase once (by deal or invoice) and advance the lifecycle; False when known.

    With ``purchases`` (a run's, read at once) what it read answers the key and the loyalty
    window, and the row is left to the transaction's flush."""
    book = purchases or Purchases()
    counted = book.counted(key)
    if counted is None:
        counted = await session.scalar(select(col(Purchase.id)).where(col(Purchase.key) == key)) is not None
    if counted:
        return False
    session.add(
        Purchase(
            customer_id=customer.id, key=key, source=source, amount=amount, currency=currency, occurred_at=occurred_at
        )
    )
    book.add(customer.id, key, occurred_at)
    if purchases is None:
        await session.flush()
    customer.purchase_count += 1
    if customer.first_purchase_at is None or occurred_at < customer.first_purchase_at:
        customer.first_purchase_at = occurred_at
    if customer.last_purchase_at is None or occurred_at > customer.last_purchase_at:
        customer.last_purchase_at = occurred_at
    start = occurred_at - timedelta(days=settings.loyal_window_days)
    in_window = book.in_window(customer.id, start, occurred_at)
    if in_window is None:
        in_window = await session.scalar(
            select(func.count())
            .select_from(Purchase)
            .where(
                col(Purchase.customer_id) == customer.id,
                col(Purchase.occurred_at) > start,
                col(Purchase.occurred_at) <= occurred_at,
            )
        )
    for to_status, why in purchase_steps(
        customer.status,
        purchases_total=customer.purchase_count,
        purchases_in_window=int(in_window or 0),
        loyal_min_purchases=settings.loyal_min_purchases,
        reason=reason,
    ):
        await transition(session, customer, to_status, reason=why, at=occurred_at, announce=book.announcements)
    return True


async def record_payment(
    session: AsyncSession,
    customer: Customer,
    *,
    payment_id: uuid.UUID,
    amount: Decimal,
    currency: str,
    received_at: datetime,
) -> bool:
    """Add cash received to lifetime value once per payment; False when already known."""
    if await session.get(PaymentFact, payment_id) is not None:
        return False
    session.add(
        PaymentFact(
            payment_id=payment_id, customer_id=customer.id, amount=amount, currency=currency, received_at=received_at
        )
    )
    totals = dict(customer.lifetime_values)
    totals[currency] = str(Decimal(totals.get(currency, "0")) + amount)
    customer.lifetime_values = totals
    return True


async def signals_of(session: AsyncSession, customer_id: uuid.UUID) -> CustomerSignals:
    signals = await session.get(CustomerSignals, customer_id)
    if signals is None:
        signals = CustomerSignals(customer_id=customer_id)
        session.add(signals)
    return signals


async def stored_signals(session: AsyncSession, customer_id: uuid.UUID) -> CustomerSignals | None:
    """The customer's signals as stored, or None (reading creates nothing)."""
    return await session.get(CustomerSignals, customer_id)


async def trends(session: AsyncSession, customer_id: uuid.UUID, as_of: datetime, window_days: int) -> tuple[str, str]:
    """Purchase frequency and payment value trends: the window's second half against its first."""
    middle, start = as_of - timedelta(days=window_days / 2), as_of - timedelta(days=window_days)
    recent = await session.scalar(
        select(func.count())
        .select_from(Purchase)
        .where(
            col(Purchase.customer_id) == customer_id,
            col(Purchase.occurred_at) > middle,
            col(Purchase.occurred_at) <= as_of,
        )
    )
    previous = await session.scalar(
        select(func.count())
        .select_from(Purchase)
        .where(
            col(Purchase.customer_id) == customer_id,
            col(Purchase.occurred_at) > start,
            col(Purchase.occurred_at) <= middle,
        )
    )
    payments = (
        await session.execute(
            select(col(PaymentFact.amount), col(PaymentFact.received_at)).where(
                col(PaymentFact.customer_id) == customer_id,
                col(PaymentFact.received_at) > start,
                col(PaymentFact.received_at) <= as_of,
            )
        )
    ).all()
    recent_value = sum((a for a, t in payments if t > middle), Decimal(0))
    previous_value = sum((a for a, t in payments if t <= middle), Decimal(0))
    return rules.trend(int(previous or 0), int(recent or 0)), rules.trend(previous_value, recent_value)


async def churn_risk_of(
    session: AsyncSession, settings: CustomerSettings, principal: Principal, customer: Customer
) -> ChurnRiskOut:
    """The customer's churn risk now, with its reasons and the lost deals the principal may see."""
    now = utcnow()
    signals = await stored_signals(session, customer.id)
    freq_trend, value_trend = await trends(session, customer.id, now, settings.value_window_days)
    risk = risk_of(customer.last_purchase_at, signals, settings, now, freq_trend, value_trend)
    lost_deals, lost_reasons = (signals.lost_deals, dict(signals.lost_reasons)) if signals else (0, {})
    # Lost deals follow sales' read rule: a rep counts (and reads the reasons of) their own only.
    if (seen := await lost_deals_seen_by(session, principal, customer.id)) is not None:
        lost_deals, lost_reasons = seen
    return ChurnRiskOut(
        customer_id=customer.id,
        score=risk.score,
        at_risk=risk.score >= settings.churn_risk_threshold,
        reasons=risk.reasons,
        lost_deals=lost_deals,
        lost_reasons=lost_reasons,
        as_of=now,
    )


async def win_back_page(
    session: AsyncSession, settings: CustomerSettings, page: PageParams
) -> tuple[list[Customer], str | None]:
    """Live customers churned or at risk, most valuable first."""
    stmt = select(Customer).where(
        col(Customer.merged_into_id).is_(None),
        col(Customer.erased_at).is_(None),
        or_(col(Customer.status) == "churned", col(Customer.churn_risk) >= settings.churn_risk_threshold),
    )
    return await paginate(session, stmt, page, (col(Customer.monetary), col(Customer.id)), descending=True)


_NO_SIGNALS = CustomerSignals(customer_id=uuid.UUID(int=0))


def risk_of(
    last_purchase_at: datetime | None,
    signals: CustomerSignals | None,
    settings: CustomerSettings,
    now: datetime,
    frequency_trend: str = "steady",
    value_trend: str = "steady",
) -> rules.Risk:
    days = (now - last_purchase_at).days if last_purchase_at else None
    s = signals or _NO_SIGNALS
    return rules.churn_risk(
        rules.RiskInputs(
            days_since_last_purchase=days,
            churn_window_days=settings.churn_window_days,
            frequency_trend=frequency_trend,
            value_trend=value_trend,
            open_tickets=len(s.open_tickets or []),
            escalated_tickets=len(s.escalated_tickets or []),
            last_csat=s.last_csat,
            overdue_invoices=len(s.overdue_invoices or []),
            sla_breaches=s.sla_breaches or 0,
        )
    )


@dataclass
class _Facts:
    purchases: int = 0
    first: datetime | None = None
    last: datetime | None = None
    recent_purchases: int = 0
    previous_purchases: int = 0
    monetary: Decimal = Decimal(0)
    recent_value: Decimal = Decimal(0)
    previous_value: Decimal = Decimal(0)
    lifetime: Decimal = Decimal(0)
    last_ever: datetime | None = None


async def _facts(session: AsyncSession, settings: CustomerSettings, as_of: datetime) -> dict[uuid.UUID, _Facts]:
    """Per-customer purchase and payment aggregates, computed by the database (GROUP BY)."""
    start = as_of - timedelta(days=settings.value_window_days)
    middle = as_of - timedelta(days=settings.value_window_days / 2)
    facts: dict[uuid.UUID, _Facts] = defaultdict(_Facts)
    at = col(Purchase.occurred_at)
    in_window = at > start
    purchases = (
        select(
            col(Purchase.customer_id),
            func.max(at),
            func.sum(case((in_window, 1), else_=0)),
            func.min(case((in_window, at))),
            func.max(case((in_window, at))),
            func.sum(case((at > middle, 1), else_=0)),
        )
        .where(at <= as_of)
        .group_by(col(Purchase.customer_id))
    )
    async for customer_id, last_ever, count, first, last, recent in await session.stream(purchases):
        f = facts[customer_id]
        f.last_ever, f.purchases, f.first, f.last = last_ever, int(count or 0), first, last
        f.recent_purchases = int(recent or 0)
        f.previous_purchases = f.purchases - f.recent_purchases
    received = col(PaymentFact.received_at)
    amount = col(PaymentFact.amount)
    sums = MoneySum(session)
    payments = (
        select(
            col(PaymentFact.customer_id),
            col(PaymentFact.currency),
            sums.sum(amount),
            sums.sum(case((received > start, amount), else_=0)),
            sums.sum(case((received > middle, amount), else_=0)),
        )
        .where(received <= as_of)
        .group_by(col(PaymentFact.customer_id), col(PaymentFact.currency))
    )
    async for customer_id, currency, total, window, recent in await session.stream(payments):
        rate = rules.to_value_currency(Decimal(1), currency, settings.value_currency, settings.fx_rates)
        if rate is None:
            continue  # no rate configured: left out of the value scores, kept in lifetime_values
        f = facts[customer_id]
        window_value, recent_value = sums.value(window) * rate, sums.value(recent) * rate
        f.lifetime += sums.value(total) * rate
        f.monetary += window_value
        f.recent_value += recent_value
        f.previous_value += window_value - recent_value
    return facts


async def recompute_values(
    sessions: async_sessionmaker[AsyncSession],
    settings: CustomerSettings,
    as_of: datetime,
    *,
    set_based: bool | None = None,
) -> dict[str, int]:
    """Recompute RFM, frequency class, tier, relationship stage and churn risk for every customer
    with purchase or payment facts; publish customer.tier_changed for each tier that moved.

    PostgreSQL runs it as set-based SQL (setbased.py); SQLite, or ``set_based=False``, in Python.
    The set-based run never waits for a customer's lock while holding another (no deadlock with the
    consumer or another replica's run); the Python path locks in id order. A transaction that still
    loses a race (deadlock, serialization failure) is tried again, then the whole run;
    a run that keeps losing is Unavailable (503 with Retry-After), never a 500. The scheduled job
    and the endpoint both come here."""
    if set_based is None:
        set_based = sessions.kw["bind"].dialect.name == "postgresql"

    async def run() -> dict[str, int]:
        if set_based:
            return await setbased.recompute(sessions, settings, as_of)
        return await _recompute_in_python(sessions, settings, as_of)

    return await or_unavailable(
        run, detail="the value recomputation lost lock races to other work; try again", retry_after=30, attempts=3
    )


async def _recompute_in_python(
    sessions: async_sessionmaker[AsyncSession], settings: CustomerSettings, as_of: datetime
) -> dict[str, int]:
    async with sessions() as session:
        facts = await _facts(session, settings, as_of)
    if not facts:
        return {"customers": 0, "tier_changes": 0}
    recency = {k: -((as_of - f.last_ever).days) if f.last_ever else -(10**6) for k, f in facts.items()}
    r_scores = rules.quintiles(recency)
    f_scores = rules.quintiles({k: f.purchases for k, f in facts.items()})
    m_scores = rules.quintiles({k: f.monetary for k, f in facts.items()})
    tiers = rules.pareto_tiers(
        {k: f.monetary for k, f in facts.items()},
        key_share=settings.tier_key_share,
        small_share=settings.tier_small_share,
        lifetime={k: f.lifetime for k, f in facts.items()},
        vip_lifetime_value=settings.tier_vip_lifetime_value,
    )
    changed = 0
    ids = sorted(facts)
    for i in range(0, len(ids), 1000):
        batch = functools.partial(
            _apply_batch, sessions, settings, as_of, ids[i : i + 1000], facts, tiers, (r_scores, f_scores, m_scores)
        )
        changed += await retry_lost_races(batch, what="value batch")
    return {"customers": len(facts), "tier_changes": changed}


async def _apply_batch(
    sessions: async_sessionmaker[AsyncSession],
    settings: CustomerSettings,
    as_of: datetime,
    ids: list[uuid.UUID],
    facts: dict[uuid.UUID, _Facts],
    tiers: dict[uuid.UUID, str],
    scores: tuple[dict[uuid.UUID, int], dict[uuid.UUID, int], dict[uuid.UUID, int]],
) -> int:
    r_scores, f_scores, m_scores = scores
    async with unit_of_work(sessions) as session:
        # Only the columns needed: loading whole records would dominate a run over a million customers.
        # Locked in id order (PostgreSQL; SQLite has one writer at a time): two runs wait for each other
        # instead of deadlocking; a deadlock with the consumer (which locks in event order) is retried.
        customers = (
            await session.execute(
                select(col(Customer.id), col(Customer.tier), col(Customer.last_purchase_at))
                .where(col(Customer.id).in_(ids), col(Customer.merged_into_id).is_(None))
                .order_by(col(Customer.id))
                .with_for_update(of=Customer)
            )
        ).all()
        signals = {
            s.customer_id: s
            for s in (
                await session.scalars(select(CustomerSignals).where(col(CustomerSignals.customer_id).in_(ids)))
            ).all()
        }
        updates: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        lines: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for c in customers:
            f = facts[c.id]
            freq_trend = rules.trend(f.previous_purchases, f.recent_purchases)
            value_trend = rules.trend(f.previous_value, f.recent_value)
            r, fr, m = r_scores[c.id], f_scores[c.id], m_scores[c.id]
            risk = risk_of(c.last_purchase_at, signals.get(c.id), settings, as_of, freq_trend, value_trend)
            tier = tiers[c.id]
            updates.append(
                {
                    "id": c.id,
                    "tier": tier,
                    "monetary": f.monetary,
                    "rfm_recency": r,
                    "rfm_frequency": fr,
                    "rfm_monetary": m,
                    "rfm_segment": rules.rfm_segment(r, fr, m),
                    "frequency_class": rules.frequency_class(
                        f.purchases, f.first, f.last, settings.frequency_heavy_days, settings.frequency_medium_days
                    ),
                    "lifecycle_stage": rules.relationship_stage(f.purchases, freq_trend, value_trend),
                    "churn_risk": risk.score,
                    "value_computed_at": as_of,
                }
            )
            if tier != c.tier:
                changes.append(
                    {"id": new_id(), "customer_id": c.id, "from_tier": c.tier, "to_tier": tier, "changed_at": as_of}
                )
                events.append(
                    outbox_row(
                        CustomerTierChanged(
                            customer_id=c.id,
                            from_tier=c.tier,
                            to_tier=tier,
                            lifetime_value=rules.lifetime_amount(f.lifetime),
                            currency=settings.value_currency,
                            changed_at=as_of,
                        ),
                        subject=c.id,
                    )
                )
                lines.append(
                    timeline.row(
                        c.id,
                        "customer.tier_changed",
                        f"Tier {c.tier or 'none'} → {tier}",
                        occurred_at=as_of,
                        data={"from_tier": c.tier, "to_tier": tier},
                    )
                )
        if updates:
            await _update_values(session, updates)
        # A tier change is three rows (history, timeline, outbox): one multi-row INSERT each per batch,
        # not a round trip per change (a first run over a million customers moves most tiers).
        for table, rows in ((TierChange.__table__, changes), (TimelineEntry.__table__, lines)):
            if rows:
                await session.execute(insert(table), rows)
        await publish_many(session, events)
    return len(changes)


# The value columns the job writes, with their PostgreSQL array types for the one-statement UPDATE.
VALUE_COLUMNS = {
    "tier": "text",
    "monetary": "numeric",
    "rfm_recency": "int",
    "rfm_frequency": "int",
    "rfm_monetary": "int",
    "rfm_segment": "text",
    "frequency_class": "text",
    "lifecycle_stage": "text",
    "churn_risk": "int",
    "value_computed_at": "timestamptz",
}
# Built from the constant column map above only (no input reaches it).
_UPDATE_FROM_ARRAYS = text(
    "UPDATE customers SET "  # noqa: S608 - constant column names and types, no input
    + ", ".join(f"{c} = v.{c}" for c in VALUE_COLUMNS)
    + " FROM unnest(CAST(:id AS uuid[]), "
    + ", ".join(f"CAST(:{c} AS {t}[])" for c, t in VALUE_COLUMNS.items())
    + ") AS v(id, "
    + ", ".join(VALUE_COLUMNS)
    + ") WHERE customers.id = v.id"
)


async def _update_values(session: AsyncSession, updates: list[dict[str, Any]]) -> None:
    """PostgreSQL: one UPDATE .. FROM unnest(arrays) per batch (an UPDATE per customer was the job's
    largest cost); SQLite: the ORM's UPDATE by primary key."""
    if dialect_name(session) != "postgresql":
        await session.execute(update(Customer), updates)
        return
    await session.execute(_UPDATE_FROM_ARRAYS, {c: [u[c] for u in updates] for c in ("id", *VALUE_COLUMNS)})


async def refresh_risk(
    session: AsyncSession, settings: CustomerSettings, customer: Customer, signals: CustomerSignals | None
) -> None:
    customer.churn_risk = risk_of(customer.last_purchase_at, signals, settings, utcnow()).score
