"""Pure rules: the status machine, starting priority, policy choice and the SLA clock."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tessera_service_desk.sla import rules as sla
from tessera_service_desk.sla.calendar import BusinessCalendar
from tessera_service_desk.surveys.rules import survey_token, token_matches
from tessera_service_desk.tickets import rules
from tessera_shared.errors import Conflict, InvalidTransition

WEEK = timedelta(days=7)
CAL = BusinessCalendar()  # Monday to Friday 09:00-17:00 UTC


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


class TestStatusMachine:
    @pytest.mark.parametrize(
        ("current", "target"),
        [
            ("new", "open"),
            ("open", "pending"),
            ("pending", "open"),
            ("on_hold", "solved"),
            ("open", "closed"),
            ("solved", "closed"),
            ("new", "closed"),
        ],
    )
    def test_allowed(self, current: str, target: str) -> None:
        rules.check_transition(current, target, solved_at=None, now=utc(2026, 1, 5), reopen_window=WEEK)

    @pytest.mark.parametrize(
        ("current", "target"),
        [
            ("closed", "open"),
            ("open", "new"),
            ("solved", "pending"),
            ("closed", "solved"),
        ],
    )
    def test_refused_lists_allowed(self, current: str, target: str) -> None:
        with pytest.raises(InvalidTransition) as refused:
            rules.check_transition(current, target, solved_at=utc(2026, 1, 5), now=utc(2026, 1, 5), reopen_window=WEEK)
        assert refused.value.allowed == list(
            rules.allowed_transitions(current, solved_at=utc(2026, 1, 5), now=utc(2026, 1, 5), reopen_window=WEEK)
        )
        assert target not in refused.value.allowed
        assert refused.value.members() == {"current": current, "requested": target, "allowed": refused.value.allowed}

    def test_reopen_within_window_only(self) -> None:
        solved = utc(2026, 1, 5)
        rules.check_transition("solved", "open", solved_at=solved, now=solved + WEEK, reopen_window=WEEK)
        with pytest.raises(InvalidTransition) as refused:
            rules.check_transition(
                "solved", "open", solved_at=solved, now=solved + WEEK + timedelta(seconds=1), reopen_window=WEEK
            )
        assert refused.value.members() == {"current": "solved", "requested": "open", "allowed": ["closed"]}
        assert "reopen window" in refused.value.detail

    def test_closed_is_terminal(self) -> None:
        assert rules.allowed_transitions("closed", solved_at=None, now=utc(2026, 1, 5), reopen_window=WEEK) == ()
        with pytest.raises(InvalidTransition) as refused:
            rules.check_transition("closed", "open", solved_at=None, now=utc(2026, 1, 5), reopen_window=WEEK)
        assert refused.value.members() == {"current": "closed", "requested": "open", "allowed": []}
        assert refused.value.detail == "a closed ticket is final; open a new ticket"

    def test_a_closed_ticket_takes_no_change(self) -> None:
        for status in rules.STATUSES[:-1]:
            rules.check_changeable(status, None)
        with pytest.raises(InvalidTransition) as refused:
            rules.check_changeable("closed", None)  # a change naming no status asks it to stay closed
        assert refused.value.members() == {"current": "closed", "requested": "closed", "allowed": []}
        with pytest.raises(InvalidTransition) as refused:
            rules.check_changeable("closed", "open")
        assert refused.value.members() == {"current": "closed", "requested": "open", "allowed": []}

    def test_only_an_open_ticket_is_escalated_or_commented(self) -> None:
        for status in rules.OPEN_STATUSES:
            rules.check_escalation(status)
            rules.check_comment(status)
        with pytest.raises(InvalidTransition) as refused:
            rules.check_escalation("solved")
        assert refused.value.members() == {"current": "solved", "requested": "escalated", "allowed": []}
        rules.check_comment("solved")  # the customer may still answer a solved ticket
        with pytest.raises(Conflict) as closed:
            rules.check_comment("closed")
        assert (closed.value.problem_slug(), closed.value.members()) == ("ticket-closed", {"allowed": []})

    def test_the_machine_holds_every_status(self) -> None:
        assert rules.TICKET_STATUS.states == rules.STATUSES
        assert rules.TICKET_STATUS.allowed("solved") == ["open", "closed"]
        assert rules.TICKET_STATUS.is_final("closed")


class TestStartingPriority:
    @pytest.mark.parametrize(
        ("requested", "category", "tier", "expected"),
        [
            ("normal", "complaint", "key", "high"),
            ("urgent", "complaint", "key", "urgent"),
            ("low", "complaint", "ordinary", "low"),
            ("normal", "fault", "key", "normal"),
        ],
    )
    def test_key_complaints_start_higher(self, requested: str, category: str, tier: str, expected: str) -> None:
        assert rules.starting_priority(requested, category, tier) == expected


class TestSelectPolicy:
    def row(self, level: str, tier: str, minutes: int) -> sla.PolicyRow:
        return sla.PolicyRow("high", level, tier, sla.Targets(minutes, None, minutes * 4))

    def test_most_specific_wins(self) -> None:
        rows = [
            self.row("any", "any", 1),
            self.row("gold", "any", 2),
            self.row("any", "key", 3),
            self.row("gold", "key", 4),
        ]
        assert sla.select_policy(rows, "high", "gold", "key").targets.first_response == 4
        assert sla.select_policy(rows[:3], "high", "gold", "key").targets.first_response == 3
        assert sla.select_policy(rows[:2], "high", "gold", "small").targets.first_response == 2
        assert sla.select_policy(rows[:2], "high", "standard", "small").targets.first_response == 1

    def test_falls_back_to_defaults(self) -> None:
        chosen = sla.select_policy([self.row("any", "any", 1)], "urgent", "standard", "ordinary")
        assert chosen.targets == sla.DEFAULT_TARGETS["urgent"]


def clock_input(changes: list[tuple[datetime, str]], **kw: Any) -> sla.ClockInput:
    status = changes[-1][1] if changes else "new"
    base = sla.ClockInput(
        opened_at=utc(2026, 1, 5, 9),
        changes=[sla.StatusChange(at, s) for at, s in changes],
        first_response_at=None,
        awaiting_reply_since=None,
        solved_at=None,
        status=status,
    )
    return dataclasses.replace(base, **kw)


TARGETS = sla.Targets(first_response=60, next_response=120, resolution=8 * 60)


class TestSlaClock:
    def test_running_ticket_due_in_business_time(self) -> None:
        states = sla.clock(TARGETS, clock_input([]), CAL, now=utc(2026, 1, 5, 10))
        assert states["resolution"].due_at == utc(2026, 1, 5, 17)
        assert states["resolution"].remaining_minutes == 7 * 60
        assert states["first_response"].state == "breached"  # due 10:00, now 10:00
        assert states["next_response"].state == "not_applicable"

    def test_pending_pauses_and_credits_the_paused_time(self) -> None:
        # 2h worked, then 3 days pending, reopened Thursday 09:00: 6h remain from there.
        inp = clock_input([(utc(2026, 1, 5, 11), "pending"), (utc(2026, 1, 8, 9), "open")])
        paused = sla.clock(TARGETS, clock_input([(utc(2026, 1, 5, 11), "pending")]), CAL, now=utc(2026, 1, 7))
        assert paused["resolution"].state == "paused"
        assert paused["resolution"].due_at is None
        assert paused["resolution"].remaining_minutes == 6 * 60
        reopened = sla.clock(TARGETS, inp, CAL, now=utc(2026, 1, 8, 9))
        assert reopened["resolution"].state == "running"  # no instant breach on reopen
        assert reopened["resolution"].due_at == utc(2026, 1, 8, 15)

    def test_on_hold_keeps_the_clock_running(self) -> None:
        inp = clock_input([(utc(2026, 1, 5, 10), "on_hold")])
        assert sla.clock(TARGETS, inp, CAL, now=utc(2026, 1, 5, 12))["resolution"].due_at == utc(2026, 1, 5, 17)

    def test_solved_stops_the_clock_met_or_breached(self) -> None:
        met = clock_input([(utc(2026, 1, 5, 16), "solved")], solved_at=utc(2026, 1, 5, 16))
        assert sla.clock(TARGETS, met, CAL, now=utc(2026, 2, 1))["resolution"].state == "met"
        late = clock_input([(utc(2026, 1, 6, 12), "solved")], solved_at=utc(2026, 1, 6, 12))
        state = sla.clock(TARGETS, late, CAL, now=utc(2026, 2, 1))["resolution"]
        assert (state.state, state.due_at) == ("breached", utc(2026, 1, 5, 17))

    def test_reopened_after_solve_continues_the_remaining_budget(self) -> None:
        inp = clock_input([(utc(2026, 1, 5, 13), "solved"), (utc(2026, 1, 6, 9), "open")])
        state = sla.clock(TARGETS, inp, CAL, now=utc(2026, 1, 6, 9))["resolution"]
        assert (state.state, state.due_at) == ("running", utc(2026, 1, 6, 13))

    def test_first_response_met_when_replied_in_time(self) -> None:
        inp = clock_input([], first_response_at=utc(2026, 1, 5, 9, 30))
        state = sla.clock(TARGETS, inp, CAL, now=utc(2026, 1, 5, 12))["first_response"]
        assert (state.state, state.achieved_at) == ("met", utc(2026, 1, 5, 9, 30))

    def test_next_response_counts_from_the_customer_message(self) -> None:
        inp = clock_input([], first_response_at=utc(2026, 1, 5, 9, 30), awaiting_reply_since=utc(2026, 1, 5, 16))
        state = sla.clock(TARGETS, inp, CAL, now=utc(2026, 1, 5, 16, 30))["next_response"]
        assert (state.state, state.due_at, state.remaining_minutes) == ("running", utc(2026, 1, 6, 10), 90)

    def test_overdue_remaining_is_negative(self) -> None:
        state = sla.clock(TARGETS, clock_input([]), CAL, now=utc(2026, 1, 6, 10))["resolution"]
        assert state.state == "breached"
        assert state.remaining_minutes == -60

    def test_next_due_skips_already_breached_and_paused(self) -> None:
        states = sla.clock(TARGETS, clock_input([]), CAL, now=utc(2026, 1, 5, 9))
        assert sla.next_due(states, []) == utc(2026, 1, 5, 10)
        assert sla.next_due(states, ["first_response"]) == utc(2026, 1, 5, 17)
        paused = sla.clock(TARGETS, clock_input([(utc(2026, 1, 5, 10), "pending")]), CAL, now=utc(2026, 1, 5, 11))
        assert sla.next_due(paused, ["first_response"]) is None


class TestSurveyToken:
    def test_token_is_bound_to_survey_and_secret(self) -> None:
        import uuid

        sid = uuid.uuid4()
        token = survey_token(b"secret", sid)
        assert token_matches(b"secret", sid, token)
        assert not token_matches(b"other", sid, token)
        assert not token_matches(b"secret", uuid.uuid4(), token)
