"""Duplicate matching as a pure rule: which reasons make two customer records one customer."""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

# Mailbox providers: a shared domain there says nothing about a shared organisation.
FREE_MAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "icloud.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "qq.com",
        "163.com",
        "126.com",
        "proton.me",
        "protonmail.com",
        "aol.com",
    }
)
NAME_SIMILARITY = 0.85


@dataclass(frozen=True)
class Candidate:
    kind: str
    name_key: str
    email: str | None
    phone: str | None


def organisation_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    domain = email.rsplit("@", 1)[1]
    return None if domain in FREE_MAIL else domain


def name_similarity(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    return SequenceMatcher(None, a, b).ratio()


def match_reasons(a: Candidate, b: Candidate) -> list[str]:
    """Why ``a`` and ``b`` look like the same customer (empty: they do not)."""
    reasons = []
    if a.email and a.email == b.email:
        reasons.append("same_email")
    if a.phone and a.phone == b.phone and len(a.phone.lstrip("+")) >= 6:
        reasons.append("same_phone")
    similar = name_similarity(a.name_key, b.name_key) >= NAME_SIMILARITY
    if a.kind == b.kind == "organization" and a.name_key and a.name_key == b.name_key:
        reasons.append("same_organisation_name")
    elif similar:
        domain = organisation_domain(a.email)
        if domain is not None and domain == organisation_domain(b.email):
            reasons.append("similar_name_same_organisation")
    return reasons
