"""Invoice rules without I/O: line arithmetic, totals, the status machine, due dates, numbers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from tessera_billing.money import ZERO, quantize
from tessera_shared.states import StateMachine

HUNDRED = Decimal(100)


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERDUE = "overdue"
    WRITTEN_OFF = "written_off"
    VOID = "void"


S = InvoiceStatus
TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    S.DRAFT: frozenset({S.ISSUED, S.VOID}),
    S.ISSUED: frozenset({S.PARTIALLY_PAID, S.PAID, S.OVERDUE, S.WRITTEN_OFF, S.VOID}),
    # Void only when the money on it was loyalty points, which the void reverses (docs/domain.md §10.5).
    S.PARTIALLY_PAID: frozenset({S.PAID, S.OVERDUE, S.WRITTEN_OFF, S.VOID}),
    S.OVERDUE: frozenset({S.PAID, S.WRITTEN_OFF}),
    # A recovery after a write-off is a payment; the invoice stays on record as written off.
    S.PAID: frozenset(),
    S.WRITTEN_OFF: frozenset(),
    S.VOID: frozenset(),
}
# The status machine: a refused move is the shared 409 invalid-transition (current, requested,
# allowed), the allowed moves listed in the order of the statuses above.
INVOICE_STATUSES = StateMachine("invoice", TRANSITIONS, order=tuple(s.value for s in InvoiceStatus))
# Issued and not settled: these make up the customer's exposure and can be paid or dunned.
OPEN_STATUSES = frozenset({S.ISSUED, S.PARTIALLY_PAID, S.OVERDUE})


def _refusal(current: str, wanted: str) -> str:
    return f"an invoice in status {current} cannot become {wanted}"


def check_transition(current: str, wanted: str) -> None:
    """Refuse a move the machine does not hold (``InvalidTransition``, 409)."""
    INVOICE_STATUSES.check(InvoiceStatus(current).value, InvoiceStatus(wanted).value, reason=_refusal)


def status_after_settlement(current: str, balance_due: Decimal) -> InvoiceStatus:
    """Status once money was applied: paid when nothing is left, else overdue stays overdue."""
    status = InvoiceStatus(current)
    if status == S.WRITTEN_OFF:
        return status
    if balance_due <= ZERO:
        return S.PAID
    return S.OVERDUE if status == S.OVERDUE else S.PARTIALLY_PAID


@dataclass(frozen=True)
class LineInput:
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal = ZERO
    tax_rate_percent: Decimal = ZERO


@dataclass(frozen=True)
class LineAmounts:
    net: Decimal
    tax: Decimal
    total: Decimal


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal


def line_amounts(line: LineInput, currency: str) -> LineAmounts:
    """Net = quantity * unit price less discount, tax on the net; each rounded per line."""
    gross = line.quantity * line.unit_price
    net = quantize(gross * (HUNDRED - line.discount_percent) / HUNDRED, currency)
    tax = quantize(net * line.tax_rate_percent / HUNDRED, currency)
    return LineAmounts(net=net, tax=tax, total=net + tax)


def invoice_totals(lines: Iterable[LineAmounts]) -> Totals:
    lines = list(lines)
    subtotal = sum((line.net for line in lines), ZERO)
    tax = sum((line.tax for line in lines), ZERO)
    return Totals(subtotal=subtotal, tax_total=tax, total=subtotal + tax)


def due_date(issue_date: date, payment_terms_days: int) -> date:
    return issue_date + timedelta(days=payment_terms_days)


def invoice_number(year: int, sequence: int) -> str:
    return f"INV-{year}-{sequence:06d}"
