"""Pure rules for campaign exports: which consent a channel needs (safe CSV cells: tessera_shared.spreadsheet)."""

from __future__ import annotations

from typing import Literal

from tessera_shared.auth import Principal, Role
from tessera_shared.spreadsheet import safe_cell

__all__ = ["CHANNELS", "SEGMENT_MANAGERS", "ExportPurpose", "may_edit_segment", "safe_cell"]

ExportPurpose = Literal["email", "sms", "phone"]

# The channel a campaign uses -> the consent purpose it needs and the column it reaches.
CHANNELS: dict[str, tuple[str, str]] = {
    "email": ("marketing_email", "email"),
    "sms": ("sms", "phone"),
    "phone": ("phone", "phone"),
}

SEGMENT_MANAGERS = frozenset({Role.ADMIN, Role.SALES_MANAGER})


def may_edit_segment(principal: Principal, created_by: str) -> bool:
    """Managers edit any segment; a rep only the ones they saved."""
    return principal.has_any(SEGMENT_MANAGERS) or principal.subject == created_by
