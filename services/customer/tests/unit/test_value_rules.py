"""Pure value rules: RFM, frequency class, Pareto tiers, stage, churn risk, loyalty, dedup, names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tessera_customer.customers.rules import name_key
from tessera_customer.dedup.rules import Candidate, match_reasons
from tessera_customer.loyalty.rules import balance_after_redemption, level_for, points_for
from tessera_customer.value.rules import (
    RiskInputs,
    churn_risk,
    frequency_class,
    pareto_tiers,
    quintiles,
    relationship_stage,
    rfm_segment,
    trend,
)

D = Decimal
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_quintiles_spread_one_to_five_and_ties_share_a_score() -> None:
    scores = quintiles({i: i for i in range(10)})
    assert [scores[i] for i in range(10)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    tied = quintiles({"a": 5, "b": 5, "c": 1})
    assert tied["a"] == tied["b"] > tied["c"]


@pytest.mark.parametrize(
    ("rfm", "segment"),
    [
        ((5, 5, 5), "champions"),
        ((1, 5, 5), "cannot_lose"),
        ((2, 3, 1), "at_risk"),
        ((3, 4, 2), "loyal"),
        ((5, 1, 1), "new"),
        ((4, 2, 3), "potential_loyalist"),
        ((3, 2, 2), "needs_attention"),
        ((1, 1, 1), "hibernating"),
    ],
)
def test_rfm_segments(rfm: tuple[int, int, int], segment: str) -> None:
    assert rfm_segment(*rfm) == segment


def test_frequency_class_from_mean_interval() -> None:
    assert frequency_class(0, None, None, 10, 45) is None
    assert frequency_class(1, T0, T0, 10, 45) == "light"
    assert frequency_class(11, T0, T0 + timedelta(days=70), 10, 45) == "heavy"
    assert frequency_class(5, T0, T0 + timedelta(days=120), 10, 45) == "medium"
    assert frequency_class(3, T0, T0 + timedelta(days=360), 10, 45) == "light"


def test_pareto_tiers_top_eighty_percent_is_key() -> None:
    revenue = {"a": D(600), "b": D(250), "c": D(100), "d": D(40), "e": D(10), "z": D(0)}
    tiers = pareto_tiers(revenue, key_share=D("0.8"), small_share=D("0.04"))
    # a (0% above) and b (60% above, crosses 80%) are key; e is the bottom 1%, d with e 5%; z has nothing.
    assert tiers == {"a": "key", "b": "key", "c": "ordinary", "d": "ordinary", "e": "small", "z": "small"}
    assert pareto_tiers(revenue, key_share=D("0.8"), small_share=D("0.05"))["d"] == "small"


def test_vip_rule_from_configuration_makes_key() -> None:
    revenue = {"a": D(900), "b": D(100)}
    assert pareto_tiers(revenue, key_share=D("0.5"), small_share=D(0))["b"] == "ordinary"
    tiers = pareto_tiers(
        revenue, key_share=D("0.5"), small_share=D(0), lifetime={"b": D(50_000)}, vip_lifetime_value=D(10_000)
    )
    assert tiers["b"] == "key"


def test_trend_and_relationship_stage() -> None:
    assert trend(2, 5) == "rising" and trend(5, 2) == "falling" and trend(5, 5) == "steady" and trend(0, 0) == "steady"
    assert relationship_stage(0, "steady", "steady") is None
    assert relationship_stage(1, "rising", "rising") == "exploration"
    assert relationship_stage(4, "rising", "steady") == "formation"
    assert relationship_stage(4, "steady", "steady") == "stability"
    assert relationship_stage(4, "falling", "steady") == "decline"
    assert relationship_stage(4, "falling", "rising") == "stability"


def test_churn_risk_adds_up_its_reasons() -> None:
    quiet = churn_risk(RiskInputs(days_since_last_purchase=10, churn_window_days=365))
    assert quiet.score == 0 and quiet.reasons == []
    risk = churn_risk(
        RiskInputs(
            days_since_last_purchase=400,
            churn_window_days=365,
            frequency_trend="falling",
            open_tickets=1,
            escalated_tickets=1,
            last_csat=1,
            overdue_invoices=1,
        )
    )
    codes = {r["code"]: r["points"] for r in risk.reasons}
    assert codes == {
        "days_since_last_purchase": 35,
        "falling_frequency": 15,
        "open_tickets": 5,
        "escalated_tickets": 10,
        "low_satisfaction": 15,
        "overdue_invoices": 10,
    }
    assert risk.score == 90
    assert churn_risk(RiskInputs(400, 365, "falling", "falling", 9, 9, 1, 9, 9)).score == 100


def test_loyalty_points_levels_and_no_negative_balance() -> None:
    assert points_for(D("99.99"), "EUR", {}, D(1)) == 99
    assert points_for(D("100"), "JPY", {"JPY": D("0.01")}, D(1)) == 1
    assert points_for(D("-5"), "EUR", {}, D(1)) == 0
    levels = {"silver": (0, D(0)), "gold": (1000, D(5)), "platinum": (5000, D(10))}
    assert level_for(0, levels) == ("silver", D(0))
    assert level_for(1000, levels) == ("gold", D(5))
    assert level_for(7000, levels) == ("platinum", D(10))
    assert balance_after_redemption(10, 10) == 0
    assert balance_after_redemption(10, 11) is None
    assert balance_after_redemption(10, 0) is None


def test_name_key_drops_case_punctuation_and_legal_form() -> None:
    assert name_key("ACME GmbH.") == name_key("Acme Ltd") == "acme"
    assert name_key("Müller & Söhne KG") == "muller sohne"
    assert name_key("GmbH") == "gmbh"


@pytest.mark.parametrize(
    ("a", "b", "reasons"),
    [
        (Candidate("person", "ada", "a@x.io", None), Candidate("person", "bob", "a@x.io", None), ["same_email"]),
        (
            Candidate("person", "ada", None, "+4930123456"),
            Candidate("person", "bob", None, "+4930123456"),
            ["same_phone"],
        ),
        (
            Candidate("organization", "acme", None, None),
            Candidate("organization", "acme", None, None),
            ["same_organisation_name"],
        ),
        (
            Candidate("person", "jon smith", "jon@acme.io", None),
            Candidate("person", "john smith", "js@acme.io", None),
            ["similar_name_same_organisation"],
        ),
        (
            Candidate("person", "jon smith", "jon@gmail.com", None),
            Candidate("person", "john smith", "js@gmail.com", None),
            [],
        ),
        (Candidate("person", "ada", "a@x.io", "+1"), Candidate("person", "bob", "b@x.io", "+1"), []),
    ],
)
def test_duplicate_matching(a: Candidate, b: Candidate, reasons: list[str]) -> None:
    assert match_reasons(a, b) == reasons
