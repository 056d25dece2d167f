"""``Email``: pydantic's ``EmailStr`` with a fast path for the plain addresses nearly every input has.

``EmailStr`` runs ``email_validator`` on every value: 30-60 µs per address, the largest per-row CPU
item of a batch upsert of 1,000 customers. Most addresses are plain ASCII ``local@label.label.tld``
for which that library's answer is known without it: the address itself, the domain lowercased
(and the local part too when it is one of RFC 2142's case-insensitive mailbox names). ``Email``
answers those with one regular expression and a few checks; anything else (spaces to strip,
display names, Unicode, quoted local parts, ``--`` in the domain, punycode, special-use domains,
lengths near a limit) goes to ``EmailStr``'s own validation, so every value is accepted, normalised
or refused exactly as before, with the same messages. The JSON schema is ``EmailStr``'s
(``{"type": "string", "format": "email"}``). tests/unit/test_emails.py compares the two.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

import email_validator
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES
from pydantic import EmailStr

# A dot-atom local part (RFC 5322 atext) of at most 64 characters; domain labels of letters,
# digits and single hyphens inside, at most 63 each; the last label letters only.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN = re.compile(rf"({_ATEXT}+(?:\.{_ATEXT}+)*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")


def _special_use() -> tuple[str, ...]:
    names = email_validator.SPECIAL_USE_DOMAIN_NAMES
    return tuple(n for n in names if not (n == "test" and email_validator.TEST_ENVIRONMENT))


def _mailbox_names() -> frozenset[str]:
    return frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


_SPECIAL = _special_use()
_CASELESS = _mailbox_names()


def plain_email(value: str) -> str | None:
    """The normalised address when ``value`` is a plain one (see the module), else None."""
    if len(value) > 250 or not value.isascii():
        return None
    m = _PLAIN.fullmatch(value)
    if m is None:
        return None
    local, domain = m.groups()
    if len(local) > 64 or "--" in domain:
        return None
    domain = domain.lower()
    for name in _SPECIAL:
        if domain == name or domain.endswith("." + name):
            return None
    if local.lower() in _CASELESS:
        local = local.lower()
    return f"{local}@{domain}"


if TYPE_CHECKING:
    Email = Annotated[str, ...]
else:

    class Email(EmailStr):
        """``EmailStr``, answering plain addresses without ``email_validator`` (same results)."""

        @classmethod
        def _validate(cls, input_value: str, /) -> str:
            plain = plain_email(input_value)
            return plain if plain is not None else super()._validate(input_value)
