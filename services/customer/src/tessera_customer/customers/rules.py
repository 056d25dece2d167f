"""Pure rules about customer records (no I/O)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from tessera_shared.auth import Principal, Role, owns

RELATIONS = ("consumer", "intermediary", "internal", "public")
RELATIONSHIP_TYPES = ("transactional", "preferred_supplier", "partner", "strategic_alliance")

# Legal-form words that say nothing about who the organisation is.
_LEGAL_SUFFIXES = frozenset(
    {
        "gmbh",
        "ag",
        "kg",
        "ltd",
        "limited",
        "inc",
        "incorporated",
        "llc",
        "plc",
        "co",
        "corp",
        "corporation",
        "company",
        "sa",
        "sarl",
        "srl",
        "bv",
        "nv",
        "oy",
        "ab",
        "as",
        "spa",
        "the",
    }
)

MANAGERS = frozenset({Role.ADMIN, Role.SALES_MANAGER, Role.SERVICE})


def normalise_email(email: str | None) -> str | None:
    return email.strip().lower() if email else None


def normalise_phone(phone: str | None) -> str | None:
    """Digits only, keeping a leading '+': '+49 (30) 1234-56' -> '+4930123456'."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", phone)
    return ("+" if phone.strip().startswith("+") else "") + digits


def name_key(name: str) -> str:
    """'ACME GmbH.' and 'Acme' -> 'acme': lower case, accents, punctuation and legal forms gone."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode() or name
    words = re.findall(r"\w+", text.lower())
    kept = [w for w in words if w not in _LEGAL_SUFFIXES]
    return " ".join(kept or words)[:200]


def may_change(principal: Principal, owner_id: str | None, team_id: object = None) -> bool:
    """Owners change their customers, and a team lead their teams' (the members' and those routed
    to the team, ``team_id``); managers, admins and services any; other reps read only."""
    if principal.has_any(MANAGERS):
        return True
    return Role.SALES_REP in principal.roles and owns(principal, owner_id, team_id)


def may_reassign(principal: Principal) -> bool:
    """Only managers hand a customer to another owner."""
    return principal.has_any(MANAGERS)


def may_own(principal: Principal, owner_id: str | None) -> bool:
    """Who may name ``owner_id`` as the owner of a new customer: the rule of PATCH (managers anyone;
    everyone else themselves, a member of a team they lead, or nobody)."""
    return owner_id is None or owns(principal, owner_id) or may_reassign(principal)


def may_record_consent(principal: Principal, owner_id: str | None, granted: bool) -> bool:
    """Withdrawing consent is never held up: any role that writes consent, on any customer. Giving
    it follows the owner rule for sales reps (their own customers, as PATCH); support agents, who
    serve every customer and own none, and managers, admins and services may record it anywhere."""
    if not granted or principal.has_any(MANAGERS | {Role.SUPPORT_AGENT}):
        return True
    return may_change(principal, owner_id)


def changed_fields(before: dict[str, object], after: dict[str, object], fields: Iterable[str]) -> list[str]:
    return [f for f in fields if before.get(f) != after.get(f)]
