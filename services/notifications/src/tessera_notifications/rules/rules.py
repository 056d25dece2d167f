"""Pure parts of routing: a rule's condition on an event's data, and the rules shipped by default."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

Op = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists"]
OPS: tuple[str, ...] = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists")
RecipientKind = Literal["role", "owner", "assignee", "team", "team_lead", "escalation_team", "user"]
RECIPIENT_KINDS: tuple[str, ...] = ("role", "owner", "assignee", "team", "team_lead", "escalation_team", "user")
CHANNELS: tuple[str, ...] = ("in_app", "email")

_MISSING = object()


def field_value(data: Mapping[str, Any], path: str) -> Any:
    """``data``'s value at a dotted path (``changes.owner_id``), or a marker for none."""
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _compare(op: str, left: Any, right: Any) -> bool:
    a, b = _number(left), _number(right)
    if a is None or b is None:
        a_text, b_text = str(left), str(right)
        if op == "gt":
            return a_text > b_text
        if op == "gte":
            return a_text >= b_text
        if op == "lt":
            return a_text < b_text
        return a_text <= b_text
    if op == "gt":
        return a > b
    if op == "gte":
        return a >= b
    if op == "lt":
        return a < b
    return a <= b


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return str(left).lower() == str(right).lower()
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return a == b
    return bool(left == right)


def holds(condition: Sequence[Mapping[str, Any]], data: Mapping[str, Any]) -> bool:
    """Every clause holds for ``data`` (an empty condition always holds). Numbers compare as
    decimals (event amounts travel as strings), other values as they are."""
    for clause in condition:
        op = str(clause.get("op", "eq"))
        value = field_value(data, str(clause["field"]))
        expected = clause.get("value")
        if op == "exists":
            wanted = expected is None or expected is True or (isinstance(expected, str) and expected.lower() == "true")
            if (value is not _MISSING and value is not None) != wanted:
                return False
            continue
        if value is _MISSING:
            return False
        if op == "eq" and not _same(value, expected):
            return False
        if op == "ne" and _same(value, expected):
            return False
        if op == "in" and not (isinstance(expected, list) and any(_same(value, e) for e in expected)):
            return False
        if op == "contains" and not (isinstance(value, list) and any(_same(v, expected) for v in value)):
            return False
        if op in ("gt", "gte", "lt", "lte") and (value is None or not _compare(op, value, expected)):
            return False
    return True


def _rule(number: int, name: str, event_type: str, recipients: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        # Fixed ids: the migration that ships them and a test name the same rows.
        "id": uuid.UUID(f"00000000-0000-4000-8000-{number:012d}"),
        "name": name,
        "event_type": event_type,
        "condition": extra.get("condition", []),
        "recipients": recipients,
        "channels": extra.get("channels", ["in_app", "email"]),
    }


def role(name: str) -> dict[str, Any]:
    return {"kind": "role", "value": name}


OWNER: dict[str, Any] = {"kind": "owner"}

# The rules shipped with the service (issue 21, item 1); admins change or remove them through
# /v1/notification-rules. Written by a migration, so every replica starts from the same rows.
DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    _rule(1, "Large deal: the sales managers", "deal.large_detected", [role("sales_manager")]),
    _rule(2, "Activity due: its owner", "activity.due", [OWNER]),
    _rule(
        3,
        "SLA breached: the assignee and the group's lead",
        "sla.breached",
        [{"kind": "assignee"}, {"kind": "team_lead"}],
    ),
    _rule(4, "Ticket escalated: the next tier", "ticket.escalated", [{"kind": "escalation_team"}]),
    _rule(5, "Credit limit exceeded: the finance managers", "credit.limit_exceeded", [role("finance_manager")]),
    _rule(6, "Invoice overdue: the deal owner", "invoice.overdue", [OWNER]),
    _rule(7, "Dunning step: the deal owner", "dunning.step", [OWNER]),
    _rule(
        8, "Lead assigned: the new owner", "lead.created", [OWNER], condition=[{"field": "owner_id", "op": "exists"}]
    ),
    _rule(
        9,
        "Lead reassigned: the new owner",
        "lead.updated",
        [OWNER],
        condition=[{"field": "changes.owner_id", "op": "exists"}],
    ),
    _rule(
        10,
        "Customer claimed: the new owner",
        "customer.updated",
        [OWNER],
        condition=[{"field": "changed_fields", "op": "contains", "value": "owner_id"}],
    ),
    _rule(
        11,
        "Write-off awaiting approval: the finance managers",
        "write_off.requested",
        [role("finance_manager")],
    ),
)
