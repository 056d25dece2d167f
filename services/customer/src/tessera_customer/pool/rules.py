"""The customer pool as pure rules: when an owner loses a customer, and who may claim one."""

from __future__ import annotations

from datetime import datetime, timedelta

from tessera_shared.auth import Principal, Role, owns
from tessera_shared.errors import Forbidden

ASSIGNERS = frozenset({Role.ADMIN, Role.SALES_MANAGER, Role.SERVICE})


def pool_cutoff(as_of: datetime, inactive_days: int) -> datetime:
    return as_of - timedelta(days=inactive_days)


def returns_to_pool(
    owner_id: str | None, owner_active_at: datetime | None, created_at: datetime, as_of: datetime, inactive_days: int
) -> bool:
    """An owned customer whose owner logged nothing for ``inactive_days`` goes back to the pool
    (a customer never worked since it was created counts from its creation)."""
    if owner_id is None:
        return False
    return (owner_active_at or created_at) <= pool_cutoff(as_of, inactive_days)


def claim_owner(principal: Principal, requested: str | None) -> str:
    """Who becomes the owner: a rep claims for themself; managers may hand it to anyone.

    Raises Forbidden (403) when a rep names someone else."""
    if principal.has_any(ASSIGNERS):
        return requested or principal.subject
    if requested is not None and requested != principal.subject:
        if owns(principal, requested):
            return requested  # a team lead, for a member of their team
        raise Forbidden("a sales rep claims customers for themself only (a team lead: or a member)")
    return principal.subject
