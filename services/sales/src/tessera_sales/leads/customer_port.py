"""The one synchronous call sales makes: creating a customer in the customer service.

A port (``CustomerDirectory``) with an httpx adapter that authenticates as a service client
(OAuth2 client credentials at the gateway) and sends an ``Idempotency-Key`` so that a retried
conversion never creates two customers.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from tessera_sales.settings import SalesSettings
from tessera_shared.errors import Conflict, Unavailable


@dataclass(frozen=True)
class CreatedCustomer:
    id: uuid.UUID
    name: str
    owner_id: str | None
    status: str


class CustomerServiceUnavailable(Unavailable):
    """The customer service (or the token endpoint) could not be reached, answered 5xx or refused
    our service credential: 503 ``upstream-unavailable`` with ``Retry-After: 5``."""

    slug = "upstream-unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(f"the customer service is unavailable; retry later ({reason})", retry_after=5)
        self.reason = reason


class CustomerRejected(Conflict):
    """The customer service refused the customer made from the lead's data (4xx): not worth retrying
    as is; the lead's data must change first. 409 ``customer-rejected`` with ``upstream_status``."""

    def __init__(self, upstream_status: int, reason: str) -> None:
        super().__init__(
            f"the customer service refused the new customer: {reason}",
            kind="customer-rejected",
            upstream_status=upstream_status,
        )
        self.upstream_status = upstream_status
        self.reason = reason


class CustomerDirectory(Protocol):
    async def create_customer(self, payload: dict[str, Any], *, idempotency_key: str) -> CreatedCustomer: ...


class HttpCustomerDirectory:
    # Refresh a little before expiry, so a token never dies on its way to the customer service.
    EXPIRY_MARGIN = 30.0

    def __init__(self, settings: SalesSettings, mounts: dict[str, httpx.AsyncBaseTransport] | None = None) -> None:
        self._settings = settings
        self._mounts = mounts
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def _client(self) -> httpx.AsyncClient:
        # Conversions are rare: a client per call keeps no connections to close at shutdown.
        return httpx.AsyncClient(timeout=httpx.Timeout(self._settings.upstream_timeout), mounts=self._mounts)

    async def _access_token(self, client: httpx.AsyncClient) -> str:
        async with self._lock:
            if self._token is not None and time.monotonic() < self._expires_at:
                return self._token
            s = self._settings
            try:
                r = await client.post(
                    f"{s.gateway_url.rstrip('/')}/auth/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": s.client_id,
                        "client_secret": s.client_secret.get_secret_value(),
                    },
                )
            except httpx.HTTPError as exc:
                raise CustomerServiceUnavailable(f"token endpoint unreachable: {exc!r}") from exc
            if r.status_code != 200:
                raise CustomerServiceUnavailable(f"token endpoint answered {r.status_code}")
            body = r.json()
            self._token = body["access_token"]
            self._expires_at = time.monotonic() + max(float(body.get("expires_in", 60)) - self.EXPIRY_MARGIN, 1.0)
            return self._token

    def _forget_token(self) -> None:
        self._token, self._expires_at = None, 0.0

    async def create_customer(self, payload: dict[str, Any], *, idempotency_key: str) -> CreatedCustomer:
        url = f"{self._settings.customer_url.rstrip('/')}/v1/customers"
        async with self._client() as client:
            for attempt in (1, 2):
                token = await self._access_token(client)
                try:
                    r = await client.post(
                        url,
                        json=payload,
                        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": idempotency_key},
                    )
                except httpx.HTTPError as exc:
                    raise CustomerServiceUnavailable(f"customer service unreachable: {exc!r}") from exc
                if r.status_code == 401 and attempt == 1:
                    self._forget_token()  # revoked or rotated key: one fresh token, then give up
                    continue
                break
        # 401 after a fresh token, 403: our credential is refused, which the lead cannot fix.
        if r.status_code >= 500 or r.status_code in (401, 403):
            raise CustomerServiceUnavailable(f"customer service answered {r.status_code}")
        if r.status_code not in (200, 201):
            detail = r.json().get("detail", r.text) if "json" in r.headers.get("content-type", "") else r.text
            raise CustomerRejected(r.status_code, str(detail))
        body = r.json()
        return CreatedCustomer(
            id=uuid.UUID(body["id"]),
            name=body["name"],
            owner_id=body.get("owner_id"),
            status=body.get("status", "prospect"),
        )
