"""Schemathesis over the billing service's document (SQLite), every check (tests/contract/fuzzing.py)."""

from __future__ import annotations

from .fuzzing import _fuzz, apps_for

apps = apps_for(("billing", "sqlite"))
test_billing = _fuzz(("billing", "sqlite"))
