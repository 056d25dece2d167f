"""Builders: small functions that make valid request bodies, overridable per test."""

from __future__ import annotations

import uuid
from typing import Any


def customer_payload(**overrides: Any) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    return {"kind": "person", "name": f"Ada {suffix}", "email": f"ada.{suffix}@example.com", **overrides}
