"""Moved to ``tessera_service_desk.api``; kept only while ``summary/router.py`` still imports it from here."""

from __future__ import annotations

from tessera_service_desk.api import AGENTS, settings_of

__all__ = ["AGENTS", "settings_of"]
