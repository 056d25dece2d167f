"""Schemathesis over the sales service's document (SQLite), every check (tests/contract/fuzzing.py)."""

from __future__ import annotations

from .fuzzing import _fuzz, apps_for

apps = apps_for(("sales", "sqlite"))
test_sales = _fuzz(("sales", "sqlite"))
