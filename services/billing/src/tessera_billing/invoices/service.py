"""Invoice use cases: each changes state, writes the ledger and records its event (flush only)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_billing.credit.service import announce_exposure, get_or_create_profile
from tessera_billing.invoices.changes import announce_updated, announced, touch
from tessera_billing.invoices.models import Invoice, InvoiceLine
from tessera_billing.invoices.numbering import next_invoice_number
from tessera_billing.invoices.rules import (
    OPEN_STATUSES,
    InvoiceStatus,
    LineInput,
    check_transition,
    due_date,
    invoice_totals,
    line_amounts,
)
from tessera_billing.ledger.receivables import Movement
from tessera_billing.ledger.service import EntryKind, record
from tessera_billing.loyalty.service import applied_to, reverse_for_void
from tessera_billing.payments.service import apply_customer_credit
from tessera_billing.settings import BillingSettings
from tessera_shared.db import new_id, utcnow
from tessera_shared.errors import Conflict, InvalidInput
from tessera_shared.events.contracts import InvoiceIssued
from tessera_shared.events.contracts.billing import ExposureReason
from tessera_shared.money import fits, too_large
from tessera_shared.outbox import publish


class AmountTooLarge(InvalidInput):
    """A line or an invoice past the largest amount the columns hold (422 naming the input)."""


class InvoiceHasPayments(Conflict):
    """Voiding an invoice that money was applied to (409 ``invoice-has-payments``)."""

    slug = "invoice-has-payments"

    def __init__(self, invoice: Invoice) -> None:
        super().__init__(f"invoice {invoice.number} has payments applied; refund or credit them first")


class Issuing:
    """How an issue takes its number, records ``invoice.issued`` and announces the customer's
    exposure: at once, one statement each (this class). A run of deal.won takes its numbers in
    one statement and writes its events in one (``invoices.handlers``), and leaves its invoices,
    lines and ledger entries to one flush (``flush_each`` false: the session's unit of work
    inserts each table's rows in one statement, invoices first)."""

    flush_each = True

    @property
    def moves(self) -> list[Movement] | None:
        """Where the receivables' movements wait (None: each moves them at once)."""
        return None

    async def number(self, session: AsyncSession, year: int) -> str:
        return await next_invoice_number(session, year)

    async def issued(self, session: AsyncSession, data: InvoiceIssued, *, credit: bool) -> None:
        """``credit``: the customer's credit is spent on the invoice next (its events follow this one)."""
        await publish(session, data, subject=data.customer_id)

    async def announce(
        self, session: AsyncSession, customer_id: uuid.UUID, reason: ExposureReason, *, deal_id: uuid.UUID | None = None
    ) -> None:
        await announce_exposure(session, customer_id, reason, deal_id=deal_id)


AT_ONCE = Issuing()


@dataclass(frozen=True)
class LineSpec:
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal = Decimal(0)
    tax_rate_percent: Decimal | None = None
    product_code: str | None = None
    # A member discount line (docs/domain.md §10.5): the rate it took off.
    member_discount_percent: Decimal | None = None


async def create_invoice(
    session: AsyncSession,
    settings: BillingSettings,
    *,
    customer_id: uuid.UUID,
    currency: str,
    lines: Sequence[LineSpec],
    issue_date: date,
    payment_terms_days: int | None,
    created_by: str,
    deal_id: uuid.UUID | None = None,
    note: str | None = None,
    issue: bool = False,
    credit: bool = True,
    issuing: Issuing = AT_ONCE,
) -> Invoice:
    """A draft invoice, or with ``issue`` one written issued at once (its number taken first: one
    INSERT, no UPDATE); terms default to the customer's credit profile. ``credit`` and ``issuing``
    as for ``issue_invoice``."""
    profile = await get_or_create_profile(session, customer_id, settings)
    terms = profile.payment_terms_days if payment_terms_days is None else payment_terms_days
    invoice_id = new_id()
    rows: list[InvoiceLine] = []
    computed = []
    for position, spec in enumerate(lines, start=1):
        # Before any rounding: quantity x unit price past the limit would not even quantize.
        if not fits(spec.quantity * spec.unit_price, currency):
            raise AmountTooLarge(f"lines.{position - 1}.unit_price", f"quantity x unit_price: {too_large(currency)}")
        rate = settings.default_tax_rate_percent if spec.tax_rate_percent is None else spec.tax_rate_percent
        amounts = line_amounts(LineInput(spec.quantity, spec.unit_price, spec.discount_percent, rate), currency)
        computed.append(amounts)
        rows.append(
            InvoiceLine(
                invoice_id=invoice_id,
                position=position,
                product_code=spec.product_code,
                description=spec.description,
                quantity=spec.quantity,
                unit_price=spec.unit_price,
                discount_percent=spec.discount_percent,
                tax_rate_percent=rate,
                net_amount=amounts.net,
                tax_amount=amounts.tax,
                total=amounts.total,
                member_discount_percent=spec.member_discount_percent,
            )
        )
    totals = invoice_totals(computed)
    if not fits(totals.total, currency):
        raise AmountTooLarge("lines", f"the invoice total: {too_large(currency)}")
    invoice = Invoice(
        id=invoice_id,
        customer_id=customer_id,
        customer_name=profile.customer_name,
        deal_id=deal_id,
        status=InvoiceStatus.DRAFT,
        currency=currency,
        issue_date=issue_date,
        due_date=due_date(issue_date, terms),
        payment_terms_days=terms,
        subtotal=totals.subtotal,
        tax_total=totals.tax_total,
        total=totals.total,
        balance_due=totals.total,
        created_by=created_by,
        note=note,
    )
    if issue:  # a new draft: the move to issued is always allowed
        await _number(session, invoice, None, issuing)
    session.add(invoice)
    if issuing.flush_each:
        await session.flush()
    session.add_all(rows)
    if issuing.flush_each:
        await session.flush()
    if issue:
        await _book(session, settings, invoice, credit=credit, issuing=issuing)
    return invoice


async def issue_invoice(
    session: AsyncSession,
    settings: BillingSettings,
    invoice: Invoice,
    *,
    issue_date: date | None = None,
    credit: bool = True,
    issuing: Issuing = AT_ONCE,
) -> Invoice:
    """Give the invoice its number and due date, book it, announce it, then apply any customer credit.

    ``credit=False``: the caller knows the customer has no credit in the invoice's currency (a run of
    deal.won read it for all its customers at once). ``issuing``: how the number is taken and the
    events written (``Issuing``)."""
    check_transition(invoice.status, InvoiceStatus.ISSUED)
    await _number(session, invoice, issue_date, issuing)
    return await _book(session, settings, invoice, credit=credit, issuing=issuing)


async def _number(session: AsyncSession, invoice: Invoice, issue_date: date | None, issuing: Issuing) -> None:
    """The move draft -> issued, once allowed: the number, dates and status."""
    if issue_date is not None:
        invoice.issue_date = issue_date
    invoice.due_date = due_date(invoice.issue_date, invoice.payment_terms_days)
    invoice.number = await issuing.number(session, invoice.issue_date.year)
    invoice.status = InvoiceStatus.ISSUED
    invoice.issued_at = utcnow()
    touch(invoice)


async def _book(
    session: AsyncSession, settings: BillingSettings, invoice: Invoice, *, credit: bool, issuing: Issuing
) -> Invoice:
    """What an issued invoice sets off: its ledger entry, invoice.issued, the customer's credit
    spent on it, the customer's exposure announced."""
    await record(
        session,
        invoice,
        EntryKind.INVOICED,
        invoice.total,
        invoice.issue_date,
        reference=invoice.number,
        moves=issuing.moves,
    )
    if issuing.flush_each:
        await session.flush()
    spend = settings.auto_apply_credit and credit
    await issuing.issued(
        session,
        InvoiceIssued(
            invoice_id=invoice.id,
            number=invoice.number,
            customer_id=invoice.customer_id,
            deal_id=invoice.deal_id,
            total=invoice.total,
            currency=invoice.currency,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            issued_at=invoice.issued_at,
        ),
        credit=spend,
    )
    if spend:
        await apply_customer_credit(session, invoice, invoice.issue_date)
    await issuing.announce(session, invoice.customer_id, "invoice_issued", deal_id=invoice.deal_id)
    return invoice


async def void_invoice(session: AsyncSession, invoice: Invoice, on: date) -> Invoice:
    check_transition(invoice.status, InvoiceStatus.VOID)
    before = announced(invoice)
    # Money paid with loyalty points is reversed and the points given back (docs/domain.md §10.5);
    # any other money refuses the void.
    points = await applied_to(session, invoice.id)
    if invoice.amount_paid - sum((p.amount for p in points), Decimal(0)) > 0:
        raise InvoiceHasPayments(invoice)
    await reverse_for_void(session, invoice, points, on)
    if invoice.status != InvoiceStatus.DRAFT:
        await record(session, invoice, EntryKind.VOIDED, -invoice.balance_due, on, reference=invoice.number)
    invoice.status = InvoiceStatus.VOID
    invoice.balance_due = Decimal(0)
    invoice.voided_at = utcnow()
    touch(invoice)
    await session.flush()
    await announce_updated(session, invoice, before, "voided")
    await announce_exposure(session, invoice.customer_id, "invoice_voided", deal_id=invoice.deal_id)
    return invoice


async def settle_from_credit(session: AsyncSession, invoice: Invoice, on: date) -> Decimal:
    """Settle an open invoice from the customer's credit (earlier over-payments); returns what was applied."""
    if invoice.status not in OPEN_STATUSES:
        raise Conflict(
            f"invoice is {invoice.status}; credit applies to open invoices only",
            kind="invoice-not-open",
            current=invoice.status,
            allowed_statuses=sorted(s.value for s in OPEN_STATUSES),
        )
    before = announced(invoice)
    applied = await apply_customer_credit(session, invoice, on)
    if applied > 0 and invoice.status != InvoiceStatus.PAID:  # settled in full: invoice.paid says it
        await announce_updated(session, invoice, before, "credit_applied")
    if applied > 0:
        await announce_exposure(session, invoice.customer_id, "payment_applied", deal_id=invoice.deal_id)
    return applied
