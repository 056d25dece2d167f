"""Pure rules, without a database: stages, probabilities, money, scoring, reports, ROI, reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tessera_sales.activities import rules as activity_rules
from tessera_sales.campaigns.rules import roi, roi_by_currency
from tessera_sales.deals import rules as deal_rules
from tessera_sales.leads import rules as lead_rules
from tessera_sales.money import from_minor, quantize, tidy, to_minor
from tessera_sales.recommendations.rules import co_occurrence, rank
from tessera_sales.reports import rules as report_rules
from tessera_shared.errors import InvalidTransition

D = Decimal


class TestStages:
    def test_default_probabilities_follow_the_domain_table(self) -> None:
        assert [deal_rules.probability_for(s) for s in deal_rules.STAGES] == [10, 20, 50, 80, 100, 0]

    def test_override_holds_for_open_stages_only(self) -> None:
        assert deal_rules.probability_for("proposal", 35) == 35
        assert deal_rules.probability_for("won", 35) == 100
        assert deal_rules.probability_for("lost", 35) == 0

    def test_open_deals_move_between_open_stages(self) -> None:
        deal_rules.check_move("proposal", "prospecting")
        deal_rules.check_move("proposal", "proposal")
        assert deal_rules.allowed_moves("proposal") == ["prospecting", "qualification", "negotiation"]

    @pytest.mark.parametrize(
        ("current", "target"),
        [("negotiation", "won"), ("proposal", "lost"), ("won", "proposal"), ("lost", "negotiation")],
    )
    def test_closing_or_moving_closed_deals_is_refused(self, current: str, target: str) -> None:
        with pytest.raises(InvalidTransition) as refused:
            deal_rules.check_move(current, target)
        # PATCH lists the open stages an open deal may move to, and nothing for a closed one.
        allowed = [] if deal_rules.is_closed(current) else deal_rules.allowed_moves(current)
        assert refused.value.members() == {"current": current, "requested": target, "allowed": allowed}
        assert refused.value.problem_slug() == "invalid-transition" and refused.value.status == 409

    def test_unknown_stage_is_refused_listing_the_moves(self) -> None:
        with pytest.raises(InvalidTransition) as refused:
            deal_rules.check_move("proposal", "signed")
        assert (refused.value.detail, refused.value.allowed) == (
            "unknown stage 'signed'",
            ["prospecting", "qualification", "negotiation"],
        )

    def test_close_and_reopen(self) -> None:
        deal_rules.check_close("negotiation", "won")
        deal_rules.check_close("prospecting", "lost")
        with pytest.raises(InvalidTransition) as refused:
            deal_rules.check_close("won", "lost")
        assert refused.value.members() == {"current": "won", "requested": "lost", "allowed": []}
        deal_rules.check_reopen("lost", "qualification")
        for current, target, allowed in (
            ("proposal", "proposal", ["prospecting", "qualification", "negotiation"]),
            ("won", "lost", ["prospecting", "qualification", "proposal", "negotiation"]),
        ):
            with pytest.raises(InvalidTransition) as refused:
                deal_rules.check_reopen(current, target)
            assert refused.value.members() == {"current": current, "requested": target, "allowed": allowed}


class TestLineArithmetic:
    def test_line_total_rounds_half_up_to_minor_unit(self) -> None:
        # The one shared rule (tessera_shared.money): billing's invoice lines round the same way.
        assert deal_rules.line_total(deal_rules.Line(D(3), D("19.99"), D(10)), "EUR") == D("53.97")
        assert deal_rules.line_total(deal_rules.Line(D(1), D("0.125")), "EUR") == D("0.13")
        assert deal_rules.line_total(deal_rules.Line(D(2), D("999.5")), "JPY") == D("1999")
        assert deal_rules.line_total(deal_rules.Line(D(1), D("1.2345")), "KWD") == D("1.235")

    def test_amount_is_sum_of_rounded_lines(self) -> None:
        lines = [deal_rules.Line(D(1), D("0.005")), deal_rules.Line(D(1), D("0.005"))]
        assert deal_rules.deal_amount(lines, "EUR") == D("0.02")  # each line rounds to 0.01 (half up)
        assert deal_rules.deal_amount([], "EUR") == D("0.00")

    def test_large_deal_alerts_on_crossing_only(self) -> None:
        assert deal_rules.crosses_large_threshold(False, D("100000.01"), D(100000))
        assert not deal_rules.crosses_large_threshold(False, D(100000), D(100000))
        assert not deal_rules.crosses_large_threshold(True, D(200000), D(100000))
        assert not deal_rules.crosses_large_threshold(False, D(10**9), None)


class TestMoney:
    def test_minor_units(self) -> None:
        assert (to_minor(D("12.345"), "EUR"), to_minor(D("12"), "JPY"), to_minor(D("1.0005"), "BHD")) == (
            1235,
            12,
            1001,
        )
        assert (from_minor(1234, "EUR"), from_minor(12, "JPY")) == (D("12.34"), D("12"))
        assert quantize(D("2.675"), "USD") == D("2.68")

    def test_tidy(self) -> None:
        assert [str(tidy(D(x))) for x in ("2.5000", "2.1250", "7")] == ["2.50", "2.125", "7.00"]
        assert str(tidy(D("3.0000"), 0)) == "3"


class TestLeadRules:
    def test_status_machine(self) -> None:
        lead_rules.check_transition("new", "qualified")
        lead_rules.check_transition("disqualified", "new")
        lead_rules.check_transition("contacted", "contacted")
        with pytest.raises(InvalidTransition) as exc:
            lead_rules.check_transition("contacted", "new")
        allowed = ["qualified", "disqualified"]
        assert exc.value.members() == {"current": "contacted", "requested": "new", "allowed": allowed}
        with pytest.raises(InvalidTransition) as exc:
            lead_rules.check_transition("new", "converted")
        assert exc.value.allowed == ["contacted", "qualified", "disqualified"]
        with pytest.raises(InvalidTransition) as exc:
            lead_rules.check_convertible("disqualified")
        assert exc.value.members() == {"current": "disqualified", "requested": "converted", "allowed": ["new"]}
        with pytest.raises(InvalidTransition) as exc:
            lead_rules.check_open("converted", "new")
        assert exc.value.members() == {"current": "converted", "requested": "new", "allowed": []}
        lead_rules.check_open("qualified", "new")

    def test_score_explains_every_point(self) -> None:
        total, parts = lead_rules.score(
            lead_rules.LeadFacts(
                source="trade_show",
                company="Acme",
                title="Head of IT",
                email="a@b.c",
                phone="+1 555 0100",
                estimated_value=D(150_000),
                engagement_count=7,
            )
        )
        assert {p.rule: p.points for p in parts} == {
            "source": 20,
            "fit.company": 10,
            "fit.decision_maker": 15,
            "fit.reachable": 10,
            "fit.value": 20,
            "engagement": 20,
        }
        assert total == 95 == sum(p.points for p in parts)
        assert all(p.reason for p in parts)

    def test_score_is_capped_and_minimal_lead_scores_its_source(self) -> None:
        assert lead_rules.score(lead_rules.LeadFacts(source="other"))[0] == 0
        rich = lead_rules.LeadFacts(
            source="referral",
            company="x",
            title="CEO",
            email="e",
            phone="p",
            estimated_value=D(10**6),
            engagement_count=99,
        )
        assert lead_rules.score(rich)[0] == 100
        assert "fit.decision_maker" not in {
            p.rule for p in lead_rules.score(lead_rules.LeadFacts(source="other", title="Chief of staff assistant"))[1]
        }


class TestReportRules:
    def test_weighted_amount_rounds_once(self) -> None:
        # 333.33 at 33% and 0.01 at 50%: Σ minor*p = 33333*33 + 1*50 = 1_100_039 -> 110.0039 -> 110.00
        assert report_rules.weighted_amount(33333 * 33 + 1 * 50, "EUR") == D("110.00")
        assert report_rules.weighted_amount(1999 * 10, "JPY") == D("200")

    def test_forecast_totals_sum_owners(self) -> None:
        lines = [
            report_rules.forecast_line("2026-03", "a", "EUR", 1, 10000, 10000 * 10),
            report_rules.forecast_line("2026-03", "b", "EUR", 2, 5000, 5000 * 50),
            report_rules.forecast_line(None, "a", "EUR", 1, 100, 100 * 10),
        ]
        totals = report_rules.totals_by_month(lines)
        assert [(t.close_month, t.deals, t.pipeline, t.weighted) for t in totals] == [
            ("2026-03", 3, D("150.00"), D("35.00")),
            (None, 1, D("1.00"), D("0.10")),
        ]

    def test_funnel_counts_deals_that_passed_each_stage(self) -> None:
        steps = report_rules.funnel({1: 5, 2: 2, 3: 1, 5: 2})  # 5 stuck at prospecting, 2 won
        assert [(s.stage, s.reached) for s in steps] == [
            ("prospecting", 10),
            ("qualification", 5),
            ("proposal", 3),
            ("negotiation", 2),
            ("won", 2),
        ]
        assert [s.conversion_to_next for s in steps] == [D("50.0"), D("60.0"), D("66.7"), D("100.0"), None]
        assert [s.conversion_to_next for s in report_rules.funnel({})][:1] == [None]

    def test_win_rate_and_averages(self) -> None:
        assert report_rules.win_rate(2, 1) == D("66.7")
        assert report_rules.win_rate(0, 0) is None
        assert report_rules.average_seconds(10, 4) == 2  # 2.5 rounds half even
        assert report_rules.average_seconds(None, 0) is None


class TestRoi:
    def test_roi_formula(self) -> None:
        assert roi(D("1500"), D("1000")) == D("0.5000")
        assert roi(D("0"), D("1000")) == D("-1.0000")
        assert roi(D("1"), D("3")) == D("-0.6667")
        assert roi(D("100"), D("0")) is None

    def test_currencies_are_never_mixed(self) -> None:
        lines = roi_by_currency({"EUR": 100000}, {"EUR": 150000, "USD": 5000})
        assert [(x.currency, x.cost, x.collected, x.roi) for x in lines] == [
            ("EUR", D("1000.00"), D("1500.00"), D("0.5000")),
            ("USD", D("0.00"), D("50.00"), None),
        ]


class TestActivityRules:
    NOW = datetime(2026, 5, 1, tzinfo=UTC)

    def test_schedule(self) -> None:
        assert activity_rules.check_schedule(self.NOW, self.NOW - timedelta(hours=1)) is None
        assert activity_rules.check_schedule(self.NOW, self.NOW + timedelta(seconds=1)) is not None
        assert activity_rules.check_schedule(None, self.NOW) is None

    def test_reminder_fires_once_when_due(self) -> None:
        past = self.NOW - timedelta(minutes=1)
        assert activity_rules.reminder_due(past, None, None, self.NOW)
        assert activity_rules.reminder_due(self.NOW, None, None, self.NOW)
        assert not activity_rules.reminder_due(past, past, None, self.NOW)  # already fired
        assert not activity_rules.reminder_due(past, None, past, self.NOW)  # completed
        assert not activity_rules.reminder_due(self.NOW + timedelta(seconds=1), None, None, self.NOW)

    def test_overdue_is_for_open_tasks_past_due(self) -> None:
        past = self.NOW - timedelta(days=1)
        assert activity_rules.is_overdue("task", past, None, self.NOW)
        assert not activity_rules.is_overdue("meeting", past, None, self.NOW)
        assert not activity_rules.is_overdue("task", past, past, self.NOW)
        assert not activity_rules.is_overdue("task", self.NOW, None, self.NOW)

    def test_collection_key_is_per_invoice_and_step(self) -> None:
        assert activity_rules.collection_key("i1", None) == "collection:i1:overdue"
        assert activity_rules.collection_key("i1", 2) != activity_rules.collection_key("i1", 3)


class TestRecommendationRules:
    def test_co_occurrence_counts_neighbours_once(self) -> None:
        baskets = {"me": ["A"], "n1": ["A", "B", "B"], "n2": ["A", "B", "C"], "far": ["C"]}
        assert [(r.product_code, r.evidence) for r in co_occurrence({"A"}, baskets)] == [("B", 2), ("C", 1)]
        assert co_occurrence(set(), baskets) == []

    def test_rank_is_stable_and_limited(self) -> None:
        assert [r.product_code for r in rank({"b": 1, "a": 1, "c": 3, "z": 0}, 5)] == ["c", "a", "b"]
        assert len(rank({"a": 1, "b": 1}, 1)) == 1
