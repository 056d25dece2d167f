"""Schemathesis over the gateway's merged document, the services in process on PostgreSQL, every
check (tests/contract/fuzzing.py)."""

from __future__ import annotations

from .fuzzing import _fuzz, apps_for

apps = apps_for(("gateway", "postgres"))
test_gateway = _fuzz(("gateway", "postgres"))
