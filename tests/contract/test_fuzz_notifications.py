"""Schemathesis over the notifications service's document (SQLite), every check (tests/contract/fuzzing.py)."""

from __future__ import annotations

from .fuzzing import _fuzz, apps_for

apps = apps_for(("notifications", "sqlite"))
test_notifications = _fuzz(("notifications", "sqlite"))
