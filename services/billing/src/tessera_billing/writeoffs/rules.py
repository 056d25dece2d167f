"""Write-off rules without I/O: the request's states and the four-eyes check."""

from __future__ import annotations

from enum import StrEnum


class WriteOffStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"


DECISIONS = {WriteOffStatus.REQUESTED: (WriteOffStatus.APPROVED, WriteOffStatus.REJECTED)}


def may_decide(requested_by: str, decider: str) -> bool:
    """Segregation of duties: whoever asked for a write-off may not decide it."""
    return requested_by != decider


def allowed_decisions(status: str) -> list[str]:
    return [s.value for s in DECISIONS.get(WriteOffStatus(status), ())]
