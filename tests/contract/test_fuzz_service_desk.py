"""Schemathesis over the service-desk service's document (SQLite), every check (tests/contract/fuzzing.py)."""

from __future__ import annotations

from .fuzzing import _fuzz, apps_for

apps = apps_for(("service-desk", "sqlite"))
test_service_desk = _fuzz(("service-desk", "sqlite"))
