"""Write-off rules without I/O: the request's states and the four-eyes check."""

from __future__ import annotations

from enum import StrEnum

from tessera_shared.errors import Forbidden
from tessera_shared.states import StateMachine


class WriteOffStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"


W = WriteOffStatus
# A request is decided once: approved or rejected, both final.
DECISIONS = StateMachine(
    "write-off",
    {W.REQUESTED: [W.APPROVED, W.REJECTED], W.APPROVED: [], W.REJECTED: []},
    order=tuple(s.value for s in W),
)


class SegregationOfDuties(Forbidden):
    """The requester tried to decide their own write-off (403 ``segregation-of-duties``)."""

    slug = "segregation-of-duties"


def may_decide(requested_by: str, decider: str) -> bool:
    """Segregation of duties: whoever asked for a write-off may not decide it."""
    return requested_by != decider


def _already(current: str, requested: str) -> str:
    return f"the write-off is already {current}"


def check_decision(status: str, requested_by: str, decider: str, decision: str) -> None:
    """May ``decider`` move a write-off in ``status`` to ``decision``? Four eyes first (403), then
    the state (409 ``invalid-transition``)."""
    if not may_decide(requested_by, decider):
        raise SegregationOfDuties("whoever requested a write-off may not decide it (segregation of duties)")
    DECISIONS.check(WriteOffStatus(status).value, WriteOffStatus(decision).value, reason=_already)
