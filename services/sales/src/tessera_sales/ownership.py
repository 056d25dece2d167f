"""Who may see whose records: reps their own, team leads their teams' too, managers (and admins)
everyone's.

Domain rules used by the services (which rows a caller reads, who owns a new record) and by
the routers to scope their lists; nothing here knows of HTTP. The team level comes from the
gateway's signed team scope (``Principal.led_teams``/``team_members``, tessera_shared.auth).
"""

from __future__ import annotations

from typing import Literal

from tessera_shared.auth import OwnerScope, Principal, Role, owns
from tessera_shared.errors import Forbidden

MANAGERS = frozenset({Role.ADMIN, Role.SALES_MANAGER})
# Roles that read every row (finance needs the deal it may let through a credit hold).
SEE_ALL = MANAGERS | {Role.FINANCE_MANAGER, Role.SERVICE}


def sees_all(principal: Principal) -> bool:
    return principal.has_any(SEE_ALL)


def is_manager(principal: Principal) -> bool:
    return principal.has_any(MANAGERS)


def scope_owner(principal: Principal) -> OwnerScope | None:
    """The owners (and teams) a caller's queries are limited to; None when the caller sees all rows."""
    return None if sees_all(principal) else OwnerScope.of(principal)


def list_scope(principal: Principal, owner_id: str | None) -> OwnerScope | Literal[False] | None:
    """A list's ``owner_id`` filter under the owner rules: the rows to list (None: all), or
    False when ``owner_id`` names someone whose records the caller may not see."""
    scope = scope_owner(principal)
    if scope is None:
        return None if owner_id is None else OwnerScope.only(owner_id)
    narrowed = scope.narrowed(owner_id)
    return False if narrowed is None else narrowed


def may_see(principal: Principal, owner_id: str | None, team_id: object = None) -> bool:
    return sees_all(principal) or owns(principal, owner_id, team_id)


def _leads_both(principal: Principal, current: str | None, requested: str | None) -> bool:
    """A team lead hands records between the members of the teams they lead (themselves included)."""
    return bool(principal.team_members) and owns(principal, current) and owns(principal, requested)


def owner_for_new(principal: Principal, requested: str | None) -> str | None:
    """A rep's new record is the rep's own; only managers (and a team lead, to their members)
    assign records to someone else."""
    if requested is None or requested == principal.subject:
        return principal.subject if requested is None and not is_manager(principal) else requested
    if not is_manager(principal) and not _leads_both(principal, principal.subject, requested):
        raise Forbidden("only a sales manager may assign a record to someone else", required_roles=sorted(MANAGERS))
    return requested


def check_reassign(principal: Principal, what: str, current: str | None, requested: str | None) -> None:
    """Handing an existing record to another owner is a manager's call (403 otherwise), or a team
    lead's between their members."""
    if requested != current and not is_manager(principal) and not _leads_both(principal, current, requested):
        raise Forbidden(f"only a sales manager may reassign a {what}", required_roles=sorted(MANAGERS))
