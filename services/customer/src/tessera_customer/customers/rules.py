"""Pure rules about customer records (no I/O)."""

from __future__ import annotations

import re


def normalise_email(email: str | None) -> str | None:
    return email.strip().lower() if email else None


def normalise_phone(phone: str | None) -> str | None:
    """Digits only, keeping a leading '+': '+49 (30) 1234-56' -> '+4930123456'."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", phone)
    return ("+" if phone.strip().startswith("+") else "") + digits
