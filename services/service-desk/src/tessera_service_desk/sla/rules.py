"""The SLA clock, rebuilt from a ticket's stored status changes (pure; no I/O).

The clock runs while the ticket is worked (new, open, on_hold), pauses while it waits on the
customer (pending) and stops once solved or closed. Time spent paused is credited: after a
pause the target's remaining business time continues from where it stopped, so reopening
never breaches "instantly".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from tessera_service_desk.sla.calendar import BusinessCalendar, add_business_time, business_time_between

PAUSED_STATUSES = frozenset({"pending"})
STOPPED_STATUSES = frozenset({"solved", "closed"})
METRICS = ("first_response", "next_response", "resolution")
ANY = "any"

MetricName = Literal["first_response", "next_response", "resolution"]
MetricStateName = Literal["running", "paused", "met", "breached", "not_applicable"]


@dataclass(frozen=True)
class Targets:
    """Business minutes allowed per metric; None means the metric is not measured."""

    first_response: int | None
    next_response: int | None
    resolution: int | None

    def of(self, metric: str) -> int | None:
        match metric:
            case "first_response":
                return self.first_response
            case "next_response":
                return self.next_response
            case "resolution":
                return self.resolution
        raise AttributeError(f"{type(self).__name__!r} has no metric {metric!r}")


# Used when no stored policy matches: a sensible desk default per priority.
DEFAULT_TARGETS: dict[str, Targets] = {
    "urgent": Targets(60, 120, 480),
    "high": Targets(240, 480, 1440),
    "normal": Targets(480, 960, 2880),
    "low": Targets(960, 1920, 4800),
}


@dataclass(frozen=True)
class PolicyRow:
    priority: str
    service_level: str
    tier: str
    targets: Targets
    business_hours: bool = True


def select_policy(policies: Iterable[PolicyRow], priority: str, service_level: str, tier: str) -> PolicyRow:
    """The most specific policy for the ticket: exact level and tier beat ``any``; tier beats level."""

    def specificity(p: PolicyRow) -> int | None:
        if p.priority != priority:
            return None
        if p.service_level not in (service_level, ANY) or p.tier not in (tier, ANY):
            return None
        return (2 if p.tier == tier else 0) + (1 if p.service_level == service_level else 0)

    ranked = [(s, p) for p in policies if (s := specificity(p)) is not None]
    if ranked:
        return max(ranked, key=lambda sp: sp[0])[1]
    return PolicyRow(priority, ANY, ANY, DEFAULT_TARGETS[priority])


@dataclass(frozen=True)
class StatusChange:
    at: datetime
    to_status: str


def running_spans(opened_at: datetime, changes: Sequence[StatusChange]) -> list[tuple[datetime, datetime | None]]:
    """Periods in which the clock runs; the last one is open-ended (None) while it still runs."""
    spans: list[tuple[datetime, datetime | None]] = []
    status, since = "new", opened_at
    for change in sorted(changes, key=lambda c: c.at):
        if _runs(status):
            spans.append((since, change.at))
        status, since = change.to_status, change.at
    if _runs(status):
        spans.append((since, None))
    return [(s, e) for s, e in spans if e is None or e > s]


def _runs(status: str) -> bool:
    return status not in PAUSED_STATUSES and status not in STOPPED_STATUSES


def _clip(
    spans: Sequence[tuple[datetime, datetime | None]], since: datetime, until: datetime | None = None
) -> Iterator[tuple[datetime, datetime | None]]:
    for s, e in spans:
        s = max(s, since)
        if until is not None:
            e = until if e is None else min(e, until)
        if e is None or e > s:
            yield s, e


def due_at(
    spans: Sequence[tuple[datetime, datetime | None]], target: timedelta, since: datetime, calendar: BusinessCalendar
) -> datetime | None:
    """When ``target`` of running business time after ``since`` is used up; None while paused before it."""
    remaining = target
    for s, e in _clip(spans, since):
        if e is None:
            return add_business_time(s, remaining, calendar)
        used = business_time_between(s, e, calendar)
        if used >= remaining:
            return add_business_time(s, remaining, calendar)
        remaining -= used
    return None


def used_time(
    spans: Sequence[tuple[datetime, datetime | None]], since: datetime, until: datetime, calendar: BusinessCalendar
) -> timedelta:
    return sum(
        (business_time_between(s, e, calendar) for s, e in _clip(spans, since, until) if e is not None), timedelta(0)
    )


@dataclass(frozen=True)
class MetricState:
    metric: str
    target_minutes: int | None
    state: MetricStateName
    due_at: datetime | None
    remaining_minutes: float | None
    achieved_at: datetime | None


@dataclass(frozen=True)
class ClockInput:
    opened_at: datetime
    changes: Sequence[StatusChange]
    first_response_at: datetime | None
    # A customer's public message waiting for an agent's public reply (after the first response).
    awaiting_reply_since: datetime | None
    solved_at: datetime | None
    status: str


def metric_state(
    metric: str,
    target: int | None,
    inp: ClockInput,
    calendar: BusinessCalendar,
    now: datetime,
    spans: Sequence[tuple[datetime, datetime | None]] | None = None,
) -> MetricState:
    spans = running_spans(inp.opened_at, inp.changes) if spans is None else spans
    since: datetime | None
    achieved: datetime | None
    if metric == "first_response":
        since, achieved = inp.opened_at, inp.first_response_at
    elif metric == "next_response":
        since, achieved = inp.awaiting_reply_since, None
    else:
        since, achieved = inp.opened_at, inp.solved_at if inp.status in STOPPED_STATUSES else None
    if target is None or since is None:
        return MetricState(metric, target, "not_applicable", None, None, None)
    budget = timedelta(minutes=target)
    due = due_at(spans, budget, since, calendar)
    if achieved is not None:
        state: MetricStateName = "breached" if due is not None and achieved > due else "met"
        return MetricState(metric, target, state, due, None, achieved)
    remaining = (budget - used_time(spans, since, now, calendar)).total_seconds() / 60
    if due is not None and due <= now:
        state = "breached"
    elif due is None:
        state = "paused"
    else:
        state = "running"
    return MetricState(metric, target, state, due, round(remaining, 2), None)


def clock(targets: Targets, inp: ClockInput, calendar: BusinessCalendar, now: datetime) -> dict[str, MetricState]:
    spans = running_spans(inp.opened_at, inp.changes)
    return {m: metric_state(m, targets.of(m), inp, calendar, now, spans) for m in METRICS}


def next_due(states: dict[str, MetricState], already_breached: Iterable[str]) -> datetime | None:
    """The earliest due time still to watch: what the breach job's index is keyed on."""
    skip = set(already_breached)
    dues = [
        s.due_at
        for s in states.values()
        if s.due_at is not None
        and s.achieved_at is None
        and s.state in ("running", "breached")
        and s.metric not in skip
    ]
    return min(dues) if dues else None
