"""Billing's pure rules: money, invoice lines and status, allocation, overdue and dunning, reports."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from tessera_billing.credit.rules import credit_check, worse_rating
from tessera_billing.dunning.rules import (
    MAY_GO_OVERDUE,
    days_overdue,
    dunning_action,
    dunning_step_due,
    dunning_thresholds,
    goes_overdue,
    overdue_cutoff,
)
from tessera_billing.invoices.rules import (
    INVOICE_STATUSES,
    LineInput,
    check_transition,
    due_date,
    invoice_number,
    invoice_totals,
    line_amounts,
    status_after_settlement,
)
from tessera_billing.money import has_valid_precision, quantize
from tessera_billing.payments.rules import Allocation, AllocationError, OpenItem, explicit, oldest_first
from tessera_billing.reports.rules import (
    bucket_by_due_date,
    bucket_for,
    closing_balance,
    days_sales_outstanding,
    month_bounds,
)
from tessera_billing.writeoffs.rules import SegregationOfDuties, check_decision
from tessera_shared.errors import InvalidInput, InvalidTransition


class TestMoney:
    def test_half_up_to_minor_unit(self) -> None:
        assert quantize(D("0.125"), "EUR") == D("0.13")
        assert quantize(D("0.124"), "EUR") == D("0.12")
        assert quantize(D("2.5"), "JPY") == D("3")
        assert quantize(D("1.0005"), "BHD") == D("1.001")

    def test_precision_check(self) -> None:
        assert has_valid_precision(D("10.10"), "EUR")
        assert not has_valid_precision(D("10.101"), "EUR")
        assert not has_valid_precision(D("1.5"), "JPY")


class TestInvoiceLines:
    def test_discount_then_tax_rounded_per_line(self) -> None:
        line = line_amounts(LineInput(D("3"), D("19.99"), D("10"), D("19")), "EUR")
        # 59.97 less 10% = 53.973 -> 53.97; tax 19% = 10.2543 -> 10.25
        assert (line.net, line.tax, line.total) == (D("53.97"), D("10.25"), D("64.22"))

    def test_totals_are_sums_of_rounded_lines(self) -> None:
        lines = [line_amounts(LineInput(D("1"), D("0.015"), tax_rate_percent=D("0")), "EUR") for _ in range(3)]
        totals = invoice_totals(lines)
        # Each line rounds 0.015 up to 0.02: the invoice shows what its lines show.
        assert totals.subtotal == totals.total == D("0.06")

    def test_zero_decimal_currency(self) -> None:
        line = line_amounts(LineInput(D("3"), D("333"), D("0"), D("10")), "JPY")
        assert (line.net, line.tax, line.total) == (D("999"), D("100"), D("1099"))

    def test_due_date_and_number(self) -> None:
        assert due_date(date(2026, 1, 31), 30) == date(2026, 3, 2)
        assert invoice_number(2026, 123) == "INV-2026-000123"


class TestStatusMachine:
    @pytest.mark.parametrize(
        ("current", "wanted"),
        [
            ("draft", "issued"),
            ("draft", "void"),
            ("issued", "paid"),
            ("issued", "overdue"),
            ("partially_paid", "paid"),
            ("overdue", "paid"),
            ("overdue", "written_off"),
            ("issued", "void"),
            ("partially_paid", "void"),  # only loyalty points on it, reversed by the void (§10.5)
        ],
    )
    def test_allowed(self, current: str, wanted: str) -> None:
        check_transition(current, wanted)

    @pytest.mark.parametrize(
        ("current", "wanted"),
        [
            ("draft", "paid"),
            ("paid", "void"),
            ("void", "issued"),
            ("written_off", "paid"),
            ("overdue", "void"),
            ("paid", "overdue"),
        ],
    )
    def test_refused_with_allowed_list(self, current: str, wanted: str) -> None:
        with pytest.raises(InvalidTransition) as info:
            check_transition(current, wanted)
        assert wanted not in info.value.allowed
        assert info.value.members() == {
            "current": current,
            "requested": wanted,
            "allowed": INVOICE_STATUSES.allowed(current),
        }
        assert info.value.detail == f"an invoice in status {current} cannot become {wanted}"

    def test_the_allowed_moves_in_the_lifecycle_order(self) -> None:
        assert INVOICE_STATUSES.allowed("issued") == ["partially_paid", "paid", "overdue", "written_off", "void"]
        assert INVOICE_STATUSES.allowed("partially_paid") == ["paid", "overdue", "written_off", "void"]
        assert INVOICE_STATUSES.allowed("paid") == []

    @pytest.mark.parametrize("current", ["issued", "partially_paid", "overdue"])
    @pytest.mark.parametrize("balance_due", [D("-1"), D("0"), D("0.01")])
    def test_settling_moves_only_as_the_machine_allows(self, current: str, balance_due: D) -> None:
        # Payments and credit apply money to open invoices only and set this status unchecked.
        after = status_after_settlement(current, balance_due)
        assert after == current or INVOICE_STATUSES.can(current, after)

    def test_status_after_settlement(self) -> None:
        assert status_after_settlement("issued", D("0")) == "paid"
        assert status_after_settlement("issued", D("1")) == "partially_paid"
        assert status_after_settlement("overdue", D("1")) == "overdue"
        assert status_after_settlement("written_off", D("0")) == "written_off"


def item(number: str, due: date, amount: str) -> OpenItem:
    return OpenItem(uuid.uuid4(), due, due - timedelta(days=30), number, D(amount))


class TestAllocation:
    def test_oldest_due_first_and_rest_as_credit(self) -> None:
        new, old = item("INV-2", date(2026, 5, 1), "100"), item("INV-1", date(2026, 4, 1), "50")
        allocations, left = oldest_first([new, old], D("170"))
        assert allocations == [Allocation(old.invoice_id, D("50")), Allocation(new.invoice_id, D("100"))]
        assert left == D("20")

    def test_partial_payment_stops_at_the_amount(self) -> None:
        a, b = item("INV-1", date(2026, 4, 1), "50"), item("INV-2", date(2026, 5, 1), "100")
        allocations, left = oldest_first([a, b], D("70"))
        assert allocations == [Allocation(a.invoice_id, D("50")), Allocation(b.invoice_id, D("20"))]
        assert left == D("0")

    def test_explicit_within_bounds(self) -> None:
        a, b = item("INV-1", date(2026, 4, 1), "50"), item("INV-2", date(2026, 5, 1), "100")
        allocations, left = explicit([a, b], [Allocation(b.invoice_id, D("60"))], D("80"))
        assert allocations == [Allocation(b.invoice_id, D("60"))]
        assert left == D("20")

    @pytest.mark.parametrize(
        ("requested", "field"),
        [
            ("more_than_open", "allocations.0.amount"),
            ("unknown", "allocations.0.invoice_id"),
            ("more_than_paid", "allocations"),
            ("twice", "allocations.1.invoice_id"),
        ],
    )
    def test_explicit_refusals_name_the_field(self, requested: str, field: str) -> None:
        a = item("INV-1", date(2026, 4, 1), "50")
        plans = {
            "more_than_open": [Allocation(a.invoice_id, D("51"))],
            "unknown": [Allocation(uuid.uuid4(), D("1"))],
            "more_than_paid": [Allocation(a.invoice_id, D("50"))],
            "twice": [Allocation(a.invoice_id, D("1")), Allocation(a.invoice_id, D("1"))],
        }
        with pytest.raises(AllocationError) as info:
            explicit([a], plans[requested], D("40") if requested == "more_than_paid" else D("100"))
        assert info.value.field == field
        assert isinstance(info.value, InvalidInput)  # the shared 422, naming the field
        assert [e["field"] for e in info.value.errors] == [field]


class TestOverdueAndDunning:
    def test_counted_from_due_date_plus_grace(self) -> None:
        due = date(2026, 3, 31)
        assert days_overdue(due, date(2026, 4, 3)) == 3
        assert not goes_overdue("issued", due, due, 0)
        assert goes_overdue("issued", due, due + timedelta(days=1), 0)
        assert not goes_overdue("issued", due, due + timedelta(days=5), 5)
        assert goes_overdue("issued", due, due + timedelta(days=6), 5)

    @pytest.mark.parametrize("grace", [0, 5])
    def test_overdue_when_due_before_the_cutoff(self, grace: int) -> None:
        as_of = date(2026, 5, 10)
        cutoff = overdue_cutoff(as_of, grace)
        assert cutoff == as_of - timedelta(days=grace)
        for status in ("issued", "partially_paid"):
            assert goes_overdue(status, cutoff - timedelta(days=1), as_of, grace)  # due the day before
            assert not goes_overdue(status, cutoff, as_of, grace)  # due on the cutoff day
            assert not goes_overdue(status, cutoff + timedelta(days=1), as_of, grace)  # due the day after
        # Due the day before the cutoff is the first due date more than ``grace`` days past due.
        assert days_overdue(cutoff - timedelta(days=1), as_of) == grace + 1

    def test_only_open_invoices_not_yet_overdue_go_overdue(self) -> None:
        assert MAY_GO_OVERDUE == ("issued", "partially_paid")
        long_ago = date(2020, 1, 1)
        for status in ("draft", "overdue", "paid", "written_off", "void"):
            assert not goes_overdue(status, long_ago, date(2026, 5, 10), 0)

    def test_each_step_once_catching_up_to_the_current(self) -> None:
        schedule = [1, 7, 15, 30]
        assert dunning_step_due(schedule, 0, 0) is None
        assert dunning_step_due(schedule, 1, 0) == 1
        assert dunning_step_due(schedule, 6, 1) is None
        assert dunning_step_due(schedule, 7, 1) == 2
        assert dunning_step_due(schedule, 20, 0) == 3  # a missed run does not send stale reminders
        assert dunning_step_due(schedule, 90, 4) is None

    def test_actions(self) -> None:
        assert [dunning_action(s, 4) for s in (1, 2, 3, 4)] == ["reminder", "reminder", "final_notice", "collection"]
        assert dunning_action(1, 1) == "collection"


class TestReports:
    @pytest.mark.parametrize(
        ("days", "bucket"),
        [
            (-5, "current"),
            (0, "current"),
            (1, "days_1_30"),
            (30, "days_1_30"),
            (31, "days_31_60"),
            (60, "days_31_60"),
            (61, "days_61_90"),
            (90, "days_61_90"),
            (91, "over_90"),
        ],
    )
    def test_bucket_boundaries(self, days: int, bucket: str) -> None:
        as_of = date(2026, 6, 30)
        assert bucket_for(days) == bucket
        assert bucket_by_due_date(as_of - timedelta(days=days), as_of) == bucket  # the SQL's form

    def test_rollforward_identity_chains_months(self) -> None:
        opening = D("100")
        march = closing_balance(opening, D("500"), D("300"), D("50"), D("0"))
        april = closing_balance(march, D("0"), D("100"), D("0"), D("20"))
        assert (march, april) == (D("250"), D("130"))

    def test_month_bounds(self) -> None:
        assert month_bounds("2026-12") == (date(2026, 12, 1), date(2027, 1, 1))
        assert month_bounds("2026-02") == (date(2026, 2, 1), date(2026, 3, 1))

    def test_dso(self) -> None:
        assert days_sales_outstanding(D("500"), D("1500"), 90) == D("30.0")
        assert days_sales_outstanding(D("500"), D("0"), 90) is None


class TestCredit:
    def test_fits_up_to_the_limit(self) -> None:
        assert credit_check(D("1000"), D("600"), D("400")).fits
        decision = credit_check(D("1000"), D("600"), D("400.01"))
        assert not decision.fits and decision.headroom == D("400")

    def test_worse_rating(self) -> None:
        assert worse_rating("A", "C") == "C"
        assert worse_rating("D", "B") == "D"


def test_dunning_thresholds_are_the_step_rule_in_due_dates() -> None:
    as_of, schedule = date(2026, 6, 1), [1, 7, 15, 30]
    for days in range(-3, 45):
        due = as_of - timedelta(days=days)
        reached = sum(1 for t in dunning_thresholds(schedule, as_of) if due <= t)
        assert dunning_step_due(schedule, days, 0) == (reached or None), days


class TestWriteOffDecision:
    def test_a_request_is_decided_once_by_someone_else(self) -> None:
        check_decision("requested", "clerk", "fin", "approved")
        check_decision("requested", "clerk", "fin", "rejected")
        with pytest.raises(SegregationOfDuties) as refused:
            check_decision("requested", "clerk", "clerk", "approved")
        assert refused.value.status == 403 and refused.value.problem_slug() == "segregation-of-duties"

    @pytest.mark.parametrize(("current", "requested"), [("approved", "rejected"), ("rejected", "approved")])
    def test_a_decided_request_is_final(self, current: str, requested: str) -> None:
        with pytest.raises(InvalidTransition) as refused:
            check_decision(current, "clerk", "fin", requested)
        assert refused.value.members() == {"current": current, "requested": requested, "allowed": []}
        assert refused.value.detail == f"the write-off is already {current}"
