"""Schemathesis over the customer service's document (SQLite), every check (tests/contract/fuzzing.py)."""

from __future__ import annotations

from .fuzzing import _fuzz, apps_for

apps = apps_for(("customer", "sqlite"))
test_customer = _fuzz(("customer", "sqlite"))
