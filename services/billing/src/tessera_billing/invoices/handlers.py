"""deal.won → one invoice per deal, and a credit flag when it breaks the customer's limit.

A run of deal.won (the consumer runner hands consecutive ones over at once) reads what every one
of its wins needs before any is applied: which deals have their invoice already, the customers'
copies and credit profiles, their member levels and whether they have credit left. Each win is
then applied in order as one alone would be, under its own event's trace context, and the
customers' ``credit.exposure_changed`` are written last, one per invoice as before, with the
receivables as the run leaves them (what sales reads when the transaction commits).
"""

from __future__ import annotations

import uuid
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_billing.credit.models import CreditProfile
from tessera_billing.credit.rules import credit_check
from tessera_billing.credit.service import exposure, exposure_changed, get_or_create_profile, open_balances_of
from tessera_billing.invoices.models import Invoice
from tessera_billing.invoices.numbering import give_back, next_invoice_number, reserve_invoice_numbers
from tessera_billing.invoices.pending import park, take_parked
from tessera_billing.invoices.service import Issuing, LineSpec, create_invoice, issue_invoice
from tessera_billing.known_customers.handlers import KNOWN_CUSTOMERS
from tessera_billing.known_customers.models import KnownCustomer
from tessera_billing.ledger.receivables import Movement, move_many
from tessera_billing.loyalty.discount import member_discounted
from tessera_billing.loyalty.models import MemberLevel
from tessera_billing.money import ZERO, quantize
from tessera_billing.payments.models import Payment
from tessera_billing.settings import BillingSettings
from tessera_shared.consumer import Batched
from tessera_shared.db import utcnow
from tessera_shared.events import CloudEvent
from tessera_shared.events.contracts import CreditLimitExceeded, CustomerCreated, DealWon, InvoiceIssued
from tessera_shared.events.contracts.billing import ExposureReason
from tessera_shared.known_customers import CreatedWork
from tessera_shared.outbox import outbox_row, publish, publish_many
from tessera_shared.trace_context import continuing, current_traceparent, traceparent_var

# Wins per transaction: the receivables' per-currency total row is locked from a run's first
# invoice to its commit (payments and other writers of the same due date wait that long).
RUN_LIMIT = 64


def lines_of(deal: DealWon) -> list[LineSpec]:
    if not deal.line_items:
        return [LineSpec(description=deal.title[:500], quantity=Decimal(1), unit_price=deal.amount)]
    return [
        LineSpec(
            description=item.description[:500],
            product_code=item.product_code,
            quantity=item.quantity,
            unit_price=item.unit_price,
            discount_percent=item.discount_percent,
            tax_rate_percent=item.tax_rate_percent,
        )
        for item in deal.line_items
    ]


@dataclass
class _Run(Issuing):
    """What a run of deal.won read at once, the invoice numbers it reserved, and the events it
    writes at its end (``finish``)."""

    customers: set[uuid.UUID]
    invoiced: set[uuid.UUID]
    levels: dict[uuid.UUID, MemberLevel]
    with_credit: set[tuple[uuid.UUID, str]]
    profiles: set[uuid.UUID]
    # The session's identity map holds its objects weakly: these keep the copies and profiles read
    # for the run there, so that ``known`` and ``get_or_create_profile`` find them without a query.
    held: list[Any]
    flush_each = False  # the run's invoices, lines and ledger entries go in one flush
    numbers: dict[int, deque[str]] = field(default_factory=dict)
    movements: list[Movement] = field(default_factory=list)
    issued_rows: list[dict[str, Any]] = field(default_factory=list)
    announcements: list[tuple[str | None, uuid.UUID, ExposureReason, uuid.UUID | None]] = field(default_factory=list)

    @classmethod
    async def read(cls, session: AsyncSession, settings: BillingSettings, wins: list[DealWon]) -> _Run:
        customers = sorted({w.customer_id for w in wins})
        invoiced = await session.scalars(
            select(col(Invoice.deal_id)).where(col(Invoice.deal_id).in_([w.deal_id for w in wins]))
        )
        copies = (
            await session.scalars(select(KnownCustomer).where(col(KnownCustomer.customer_id).in_(customers)))
        ).all()
        profiles = (
            await session.scalars(select(CreditProfile).where(col(CreditProfile.customer_id).in_(customers)))
        ).all()
        levels = await session.scalars(select(MemberLevel).where(col(MemberLevel.customer_id).in_(customers)))
        payments = await session.execute(
            select(col(Payment.customer_id), col(Payment.currency), col(Payment.unallocated)).where(
                col(Payment.customer_id).in_(customers)
            )
        )
        run = cls(
            customers=set(customers),
            invoiced={d for d in invoiced if d is not None},
            levels={level.customer_id: level for level in levels},
            # Compared here: Money is text on SQLite (as ``credit_payments`` does).
            with_credit={(c, currency) for c, currency, left in payments if left > ZERO},
            profiles={p.customer_id for p in profiles},
            held=[*copies, *profiles],
        )
        if settings.issue_invoices_from_deals:
            # The numbers the run's invoices will take, per year, in one statement each: every new
            # deal of a customer known here is invoiced (an unknown one's win is parked). A count
            # off by a merge or an error costs nothing: ``number`` takes more one by one, ``finish``
            # gives the unused back.
            known = {c.customer_id for c in copies}
            deals, years = set(run.invoiced), Counter[int]()
            for w in wins:
                if w.deal_id not in deals and w.customer_id in known:
                    deals.add(w.deal_id)
                    years[w.won_at.date().year] += 1
            for year, count in sorted(years.items()):
                run.numbers[year] = deque(await reserve_invoice_numbers(session, year, count))
        return run

    @property
    def moves(self) -> list[Movement]:
        return self.movements

    async def number(self, session: AsyncSession, year: int) -> str:
        if block := self.numbers.get(year):
            return block.popleft()
        return await next_invoice_number(session, year)

    async def issued(self, session: AsyncSession, data: InvoiceIssued, *, credit: bool) -> None:
        """Kept for the end of the run (built now, under its event's trace context), unless the
        customer's credit is spent on the invoice next: those events must follow it."""
        if credit:
            await self.write_issued(session)
            await publish(session, data, subject=data.customer_id)
        else:
            self.issued_rows.append(outbox_row(data, subject=data.customer_id))

    async def write_issued(self, session: AsyncSession) -> None:
        """The kept ``invoice.issued``, before anything the run publishes at once."""
        rows, self.issued_rows = self.issued_rows, []
        await publish_many(session, rows)

    async def finish(self, session: AsyncSession) -> None:
        await session.flush()  # the run's invoices, lines and ledger entries: a statement per table
        movements, self.movements = self.movements, []
        await move_many(session, movements)  # the receivables, summed per row
        await self.write_issued(session)
        await self.announce_all(session)
        for year, unused in self.numbers.items():
            await give_back(session, year, len(unused))  # the last ones of the block: no gap
        self.numbers.clear()

    async def level(self, session: AsyncSession, customer_id: uuid.UUID) -> MemberLevel | None:
        """The customer's member level (a merge's survivor was not read with the run: asked now)."""
        if customer_id in self.customers:
            return self.levels.get(customer_id)
        return await session.get(MemberLevel, customer_id)

    def has_credit(self, customer_id: uuid.UUID, currency: str) -> bool:
        return customer_id not in self.customers or (customer_id, currency) in self.with_credit

    async def announce(
        self, session: AsyncSession, customer_id: uuid.UUID, reason: ExposureReason, *, deal_id: uuid.UUID | None = None
    ) -> None:
        """``announce_exposure``, kept for the end of the run with the trace context of its event."""
        self.announcements.append((current_traceparent(), customer_id, reason, deal_id))

    async def announce_all(self, session: AsyncSession) -> None:
        """The owed ``credit.exposure_changed``: the profiles locked in key order (as
        ``announce_exposure`` locks each, after the receivables), the open balances in one query."""
        if not self.announcements:
            return
        customers = sorted({customer_id for _, customer_id, _, _ in self.announcements})
        locked = await session.scalars(
            select(CreditProfile)
            .where(col(CreditProfile.customer_id).in_(customers))
            .order_by(col(CreditProfile.customer_id))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        profiles = {p.customer_id: p for p in locked}
        balances = await open_balances_of(session, customers)
        rows = []
        for traceparent, customer_id, reason, deal_id in self.announcements:
            if (profile := profiles.get(customer_id)) is None:
                continue  # as announce_exposure: no profile, no limit to announce
            with _traced(traceparent):
                changed = exposure_changed(profile, balances.get(customer_id, {}), reason, deal_id=deal_id)
                rows.append(outbox_row(changed, subject=customer_id))
        self.announcements.clear()
        await publish_many(session, rows)


@contextmanager
def _traced(traceparent: str | None) -> Iterator[None]:
    token = traceparent_var.set(traceparent)
    try:
        yield
    finally:
        traceparent_var.reset(token)


async def _on_deal_won(session: AsyncSession, settings: BillingSettings, data: DealWon, run: _Run) -> None:
    # The inbox dedupes deliveries; this (and the unique deal_id) dedupes re-announcements.
    if data.deal_id in run.invoiced:
        return
    # Known customers only (docs/domain.md §10.2): a win for a customer not announced here yet
    # is parked, and invoiced when its customer.created arrives (``parked_deal_wins``).
    found = await KNOWN_CUSTOMERS.known(session, data.customer_id)
    if found.unknown:
        await park(session, data)
        return
    run.invoiced.add(data.deal_id)  # a second win of the deal in the run finds this one
    if found.merged and found.survivor_id is not None:
        data = data.model_copy(update={"customer_id": found.survivor_id})  # the merge re-pointed the rest
    checked = data.credit_check
    # Written issued at once unless something is published between the draft and the issue.
    issue_now = settings.issue_invoices_from_deals and checked is not None and checked.fits
    credit = run.has_credit(data.customer_id, data.currency)
    if not issue_now or data.customer_id not in run.profiles:
        await run.write_issued(session)  # this win may publish at once: the kept events go first
    profile = await get_or_create_profile(session, data.customer_id, settings)
    issue_date = data.won_at.date()
    level = await run.level(session, data.customer_id)
    invoice = await create_invoice(
        session,
        settings,
        customer_id=data.customer_id,
        currency=data.currency,
        lines=member_discounted(settings, level, lines_of(data), data.currency),
        issue_date=issue_date,
        payment_terms_days=data.payment_terms_days,
        created_by="deal.won",
        deal_id=data.deal_id,
        issue=issue_now,
        credit=credit,
        issuing=run,
    )
    if issue_now:
        return
    if checked is not None and not checked.fits:
        # Sales refused this win past the limit unless a finance manager approved an override
        # (docs/domain.md §10.1): the event is the record of that approval, with sales' figures.
        await publish(
            session,
            CreditLimitExceeded(
                customer_id=data.customer_id,
                deal_id=data.deal_id,
                requested_amount=checked.amount,
                exposure=checked.exposure,
                credit_limit=checked.credit_limit,
                currency=checked.currency,
                detected_at=utcnow(),
                approved_by=data.credit_override_by,
                exchange_rate=checked.exchange_rate,
                deal_currency=data.currency if checked.exchange_rate is not None else None,
            ),
            subject=data.customer_id,
        )
    elif checked is None and profile.currency == invoice.currency:
        # A win sales did not check (no limit known to it then): billing's own check, same currency.
        current = await exposure(session, data.customer_id, invoice.currency)
        decision = credit_check(profile.credit_limit, current, invoice.total)
        if not decision.fits:
            await publish(
                session,
                CreditLimitExceeded(
                    customer_id=data.customer_id,
                    deal_id=data.deal_id,
                    requested_amount=quantize(invoice.total, invoice.currency),
                    exposure=quantize(current, invoice.currency),
                    credit_limit=quantize(profile.credit_limit, invoice.currency),
                    currency=invoice.currency,
                    detected_at=utcnow(),
                ),
                subject=data.customer_id,
            )
    if settings.issue_invoices_from_deals:
        await issue_invoice(session, settings, invoice, issue_date=issue_date, credit=credit, issuing=run)


def deal_won_handler(settings: BillingSettings) -> Batched[DealWon]:
    async def apply(session: AsyncSession, events: list[tuple[CloudEvent, DealWon]]) -> None:
        run = await _Run.read(session, settings, [data for _, data in events])
        for event, data in events:
            with continuing(event.traceparent):
                await _on_deal_won(session, settings, data, run)
        await run.finish(session)

    return Batched(apply, limit=RUN_LIMIT)


def parked_deal_wins(settings: BillingSettings) -> CreatedWork:
    """customer.created's further work: the customers' parked deal.won facts become their invoices,
    in the same transaction (a redelivered customer.created finds the park empty)."""
    on_deal_won = deal_won_handler(settings)

    async def drain(session: AsyncSession, events: list[tuple[CloudEvent, CustomerCreated]]) -> None:
        by_customer = {data.customer_id: event for event, data in events}
        parked = await take_parked(session, list(by_customer))
        if parked:
            await on_deal_won.many(session, [(by_customer[won.customer_id], won) for won in parked])

    return drain
