"""Per-token (and per-address) request limits, shared by every gateway replica (limits/store.py),
and the IETF RateLimit fields that report them (draft-ietf-httpapi-ratelimit-headers)."""

from __future__ import annotations

import math

from tessera_gateway.limits.store import Decision, SlidingWindows, retry_after_header

WINDOW_SECONDS = 60


class RateLimits:
    """``per_minute`` requests per key in any 60 s (a sliding window): a policy by name."""

    def __init__(self, windows: SlidingWindows, per_minute: int, policy: str = "per-token") -> None:
        self._windows = windows
        self.limit = per_minute
        self.policy = policy

    async def take(self, key: str) -> Decision:
        return await self._windows.take(f"rate:{self.policy}:{key}", self.limit, WINDOW_SECONDS)

    def headers(self, decision: Decision) -> dict[str, str]:
        """``RateLimit-Policy`` (the quota ``q`` per window ``w``) and ``RateLimit`` (``r`` left,
        for ``t`` more seconds at most), and ``Retry-After`` on a refusal."""
        fields = {
            "RateLimit-Policy": f'"{self.policy}";q={decision.limit};w={decision.window}',
            "RateLimit": f'"{self.policy}";r={decision.remaining};t={max(0, math.ceil(decision.reset))}',
        }
        if not decision.allowed:
            fields["Retry-After"] = retry_after_header(decision.retry_after)
        return fields
