"""The customer service as the other services reach it synchronously: one port, one HTTP adapter.

Two calls, both rare: reading one customer when a service's local copy does not know an id yet
(the read-through of ``tessera_shared.known_customers.KnownCustomers.require``), and creating a
customer (sales' lead conversion). The adapter authenticates as a service client (OAuth2 client
credentials at the gateway, ``<gateway_url>/auth/token``) and calls the customer service at
``customer_url``; a create sends an ``Idempotency-Key`` so that a retry never makes two customers.

A service's settings inherit ``CustomerServiceSettings`` (``customer_url``, ``client_id``,
``client_secret``, ``upstream_timeout``; ``gateway_url`` is every service's already).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from tessera_shared.errors import Conflict, Unavailable
from tessera_shared.http.tls import client_tls


class CustomerServiceSettings(BaseSettings):
    """The fields a service needs to reach the customer service (mixed into its settings)."""

    customer_url: str = "http://127.0.0.1:8001"
    # The service's client at the gateway (role ``service``): svc-sales, svc-service-desk, svc-billing.
    client_id: str = "svc-local"
    client_secret: SecretStr = SecretStr("local")
    upstream_timeout: float = Field(default=5.0, gt=0)


class _Endpoints(Protocol):
    """What the adapter reads from a service's settings."""

    @property
    def gateway_url(self) -> str: ...
    @property
    def customer_url(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def client_secret(self) -> SecretStr: ...
    @property
    def upstream_timeout(self) -> float: ...


@dataclass(frozen=True)
class CustomerFacts:
    """A customer as the customer service answers it (what a local copy keeps of it)."""

    id: uuid.UUID
    name: str
    owner_id: str | None
    status: str
    version: int = 1
    erased: bool = False


# Kept under its old name: what a conversion gets back from create_customer.
CreatedCustomer = CustomerFacts


@dataclass(frozen=True)
class MergedAway:
    """The customer service answered 404 for a merged-away id, naming its survivor."""

    id: uuid.UUID
    survivor_id: uuid.UUID


@dataclass(frozen=True)
class NoSuchCustomer:
    """The customer service answered 404: no customer has this id."""

    id: uuid.UUID


@dataclass(frozen=True)
class Unreachable:
    """The customer service (or the token endpoint) could not answer; nothing is known."""

    reason: str


CustomerAnswer = CustomerFacts | MergedAway | NoSuchCustomer | Unreachable


class CustomerServiceUnavailable(Unavailable):
    """The customer service (or the token endpoint) could not be reached, answered 5xx or refused
    our service credential: 503 ``upstream-unavailable`` with ``Retry-After: 5``; nothing is stored."""

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
    async def read_customer(self, customer_id: uuid.UUID) -> CustomerAnswer: ...

    async def create_customer(self, payload: dict[str, Any], *, idempotency_key: str) -> CustomerFacts: ...


def _facts(body: dict[str, Any]) -> CustomerFacts:
    return CustomerFacts(
        id=uuid.UUID(body["id"]),
        name=body["name"],
        owner_id=body.get("owner_id"),
        status=body.get("status", "prospect"),
        version=int(body.get("version", 1)),
        erased=body.get("erased_at") is not None,
    )


class HttpCustomerDirectory:
    # Refresh a little before expiry, so a token never dies on its way to the customer service.
    EXPIRY_MARGIN = 30.0

    def __init__(self, settings: _Endpoints, mounts: Mapping[str, httpx.AsyncBaseTransport] | None = None) -> None:
        self._settings = settings
        self._mounts = mounts
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def _client(self) -> httpx.AsyncClient:
        # The calls are rare (a local miss, a conversion): a client per call keeps no connections
        # to close at shutdown.
        return httpx.AsyncClient(
            timeout=httpx.Timeout(self._settings.upstream_timeout), mounts=self._mounts, verify=client_tls()
        )

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

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call with our token (one fresh token after a 401); CustomerServiceUnavailable when
        the service cannot be reached, answers 5xx or keeps refusing our credential."""
        url = f"{self._settings.customer_url.rstrip('/')}{path}"
        headers = kwargs.pop("headers", {})
        async with self._client() as client:
            for attempt in (1, 2):
                token = await self._access_token(client)
                try:
                    r = await client.request(
                        method, url, headers={**headers, "Authorization": f"Bearer {token}"}, **kwargs
                    )
                except httpx.HTTPError as exc:
                    raise CustomerServiceUnavailable(f"customer service unreachable: {exc!r}") from exc
                if r.status_code == 401 and attempt == 1:
                    self._forget_token()  # revoked or rotated key: one fresh token, then give up
                    continue
                break
        # 401 after a fresh token, 403: our credential is refused, which the caller cannot fix.
        if r.status_code >= 500 or r.status_code in (401, 403):
            raise CustomerServiceUnavailable(f"customer service answered {r.status_code}")
        return r

    async def read_customer(self, customer_id: uuid.UUID) -> CustomerAnswer:
        try:
            r = await self._call("GET", f"/v1/customers/{customer_id}")
        except CustomerServiceUnavailable as exc:
            return Unreachable(exc.reason)
        if r.status_code == 200:
            return _facts(r.json())
        if r.status_code == 404:
            body = r.json() if "json" in r.headers.get("content-type", "") else {}
            survivor = body.get("merged_into") if isinstance(body, dict) else None
            return MergedAway(customer_id, uuid.UUID(survivor)) if survivor else NoSuchCustomer(customer_id)
        return Unreachable(f"customer service answered {r.status_code}")

    async def create_customer(self, payload: dict[str, Any], *, idempotency_key: str) -> CustomerFacts:
        r = await self._call("POST", "/v1/customers", json=payload, headers={"Idempotency-Key": idempotency_key})
        if r.status_code not in (200, 201):
            detail = r.json().get("detail", r.text) if "json" in r.headers.get("content-type", "") else r.text
            raise CustomerRejected(r.status_code, str(detail))
        return _facts(r.json())
