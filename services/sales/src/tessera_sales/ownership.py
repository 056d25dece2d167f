"""Who may see whose records: reps their own, managers (and admins) everyone's.

Domain rules used by the services (which rows a caller reads, who owns a new record) and by
the routers to scope their lists; nothing here knows of HTTP.
"""

from __future__ import annotations

from tessera_shared.auth import Principal, Role
from tessera_shared.errors import Forbidden

MANAGERS = frozenset({Role.ADMIN, Role.SALES_MANAGER})
# Roles that read every row (finance needs the deal it may let through a credit hold).
SEE_ALL = MANAGERS | {Role.FINANCE_MANAGER, Role.SERVICE}


def sees_all(principal: Principal) -> bool:
    return principal.has_any(SEE_ALL)


def is_manager(principal: Principal) -> bool:
    return principal.has_any(MANAGERS)


def scope_owner(principal: Principal) -> str | None:
    """The owner a caller's queries are limited to; None when the caller sees all rows."""
    return None if sees_all(principal) else principal.subject


def may_see(principal: Principal, owner_id: str | None) -> bool:
    return sees_all(principal) or owner_id == principal.subject


def owner_for_new(principal: Principal, requested: str | None) -> str | None:
    """A rep's new record is the rep's own; only managers assign records to someone else."""
    if requested is None or requested == principal.subject:
        return principal.subject if requested is None and not is_manager(principal) else requested
    if not is_manager(principal):
        raise Forbidden("only a sales manager may assign a record to someone else", required_roles=sorted(MANAGERS))
    return requested


def check_reassign(principal: Principal, what: str, current: str | None, requested: str | None) -> None:
    """Handing an existing record to another owner is a manager's call (403 otherwise)."""
    if requested != current and not is_manager(principal):
        raise Forbidden(f"only a sales manager may reassign a {what}", required_roles=sorted(MANAGERS))
