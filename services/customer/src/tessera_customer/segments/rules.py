"""Pure rules for campaign exports: which consent a channel needs, and safe CSV cells."""

from __future__ import annotations

import re
from typing import Literal

from tessera_shared.auth import Principal, Role

ExportPurpose = Literal["email", "sms", "phone"]

# The channel a campaign uses -> the consent purpose it needs and the column it reaches.
CHANNELS: dict[str, tuple[str, str]] = {
    "email": ("marketing_email", "email"),
    "sms": ("sms", "phone"),
    "phone": ("phone", "phone"),
}

SEGMENT_MANAGERS = frozenset({Role.ADMIN, Role.SALES_MANAGER})

# A spreadsheet treats a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PHONE_NUMBER = re.compile(r"^\+?[0-9]+$")


def safe_cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    if _PHONE_NUMBER.match(text):
        return text  # a normalised phone number: '+49...' is a number to a spreadsheet, not a formula
    return "'" + text if text.startswith(_FORMULA_START) else text


def may_edit_segment(principal: Principal, created_by: str) -> bool:
    """Managers edit any segment; a rep only the ones they saved."""
    return principal.has_any(SEGMENT_MANAGERS) or principal.subject == created_by
