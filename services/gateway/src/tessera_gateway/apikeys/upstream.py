"""Calls made with an API key, as the gateway forwards them: with a short-lived token of its own.

The gateway checks the key itself (its table is the truth: a key works from the answer that
created it, and a revoked key stops here at once). Upstream it then speaks for the key with an
access token it signs for the key's principal (subject ``apikey:<id>``, the key's roles and
name), instead of the key: a service learns keys from ``crm.gateway`` a moment after they are
created, and a call forwarded in that moment would be refused as an unknown key. Services still
accept the key itself when called directly. One token per key is kept while it has more than
half its life left; it never leaves the gateway.
"""

from __future__ import annotations

import time
from datetime import timedelta

from fastapi import Request

from tessera_shared.api_keys import SUBJECT_PREFIX
from tessera_shared.auth import Principal, TokenCodec

TOKEN_TTL = 120.0  # seconds


class KeyTokens:
    """The gateway's tokens for API keys' principals, one per key and set of roles."""

    def __init__(self, codec: TokenCodec, ttl: float = TOKEN_TTL) -> None:
        self._codec = codec
        self._ttl = ttl
        self._tokens: dict[tuple[str, frozenset[str], str | None], tuple[str, float]] = {}

    def token_for(self, principal: Principal) -> str:
        key = (principal.subject, principal.roles, principal.name)
        now = time.monotonic()
        held = self._tokens.get(key)
        if held is not None and held[1] - now > self._ttl / 2:
            return held[0]
        token = self._codec.issue(
            principal.subject,
            principal.roles,
            kind=principal.kind,
            name=principal.name,
            ttl=timedelta(seconds=self._ttl),
        )
        if len(self._tokens) > 10_000:  # keys come and go: start over rather than grow
            self._tokens.clear()
        self._tokens[key] = (token, now + self._ttl)
        return token


def upstream_authorization(request: Request) -> str | None:
    """The Authorization header to forward: the gateway's token for a caller that came with an
    API key (the key was checked by this request's principal dependency), else the caller's own."""
    header = request.headers.get("authorization")
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None or not principal.subject.startswith(SUBJECT_PREFIX):
        return header
    tokens: KeyTokens | None = getattr(request.app.state, "key_tokens", None)
    if tokens is None:
        tokens = request.app.state.key_tokens = KeyTokens(request.app.state.token_codec)
    return f"Bearer {tokens.token_for(principal)}"
