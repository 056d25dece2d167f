"""The consent a campaign's customer member needs (docs/domain.md §10.4)."""

from __future__ import annotations

import pytest

from tessera_sales.campaigns.rules import check_member, purposes_for


@pytest.mark.parametrize(
    ("channel", "purposes"),
    [
        ("email", ("marketing_email",)),
        ("sms", ("sms",)),
        ("phone", ("phone",)),
        ("event", ("marketing_email", "sms", "phone")),
        ("print", ("marketing_email", "sms", "phone")),
    ],
)
def test_the_channel_names_the_purposes(channel: str, purposes: tuple[str, ...]) -> None:
    assert purposes_for(channel) == purposes


def test_a_granted_consent_for_the_channel_allows() -> None:
    assert check_member("email", {"marketing_email": True}).allowed
    assert check_member("event", {"sms": True, "marketing_email": False}).allowed


def test_never_answered_is_no_consent() -> None:
    check = check_member("email", {})
    assert (check.allowed, check.reason) == (False, "no_consent")
    assert "marketing_email" in check.message and "email" in check.message
    # Consent for another channel or for profiling does not count.
    assert check_member("email", {"sms": True, "profiling": True}).reason == "no_consent"


def test_withdrawn_is_refused_with_its_reason() -> None:
    assert check_member("sms", {"sms": False}).reason == "consent_withdrawn"
    assert check_member("web", {"sms": False, "phone": False}).reason == "consent_withdrawn"


def test_an_erased_customer_is_refused_whatever_the_answers() -> None:
    check = check_member("email", {"marketing_email": True}, erased=True)
    assert (check.allowed, check.reason) == (False, "customer_erased")
