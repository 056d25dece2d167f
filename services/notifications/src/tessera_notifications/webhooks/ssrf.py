"""SSRF safety: which addresses a webhook may reach, checked when an endpoint is saved and again
at every connection (a network backend that resolves the host itself, checks every address and
connects to a checked one, so a DNS answer that changes in between cannot point a delivery at
the inside; TLS still uses the URL's host name for SNI and certificate checks, and the Host
header is the URL's)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud metadata services that are not already link-local (AWS IPv6, Alibaba, Oracle's, ECS tasks).
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192", "169.254.170.2")
)


@dataclass(frozen=True)
class AddressPolicy:
    """Global unicast addresses only, unless an operator allows a network; loopback when asked."""

    allowed: tuple[IPNetwork, ...] = ()
    allow_loopback: bool = False
    require_https: bool = True

    @classmethod
    def of(cls, networks: Iterable[str], *, allow_loopback: bool, require_https: bool) -> AddressPolicy:
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in networks), allow_loopback, require_https)

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be reached, or None."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed):
            return None
        if address.is_loopback:
            return None if self.allow_loopback else "loopback"
        if address in METADATA:
            return "a cloud metadata address"
        for kind in ("unspecified", "link_local", "multicast", "private", "reserved"):
            if getattr(address, f"is_{kind}"):
                return kind.replace("_", "-")
        if not address.is_global:
            return "not a public address"
        return None


class RefusedAddress(httpcore.ConnectError):
    """The host resolves to an address the policy refuses."""


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return [literal]
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


async def check_url(url: str, policy: AddressPolicy) -> str | None:
    """Why ``url`` may not be a webhook endpoint, or None. Every address its host resolves to
    must be allowed (the check is made again at each connection)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) URL with a host"
    if policy.require_https and parts.scheme != "https":
        return "must use https"
    if parts.username or parts.password:
        return "must not carry credentials"
    try:
        addresses = await resolve(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    except OSError:
        return f"host {parts.hostname!r} does not resolve"
    for address in addresses:
        why = policy.refusal(address)
        if why is not None:
            return f"host {parts.hostname!r} resolves to {address}, {why}: refused"
    return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's default backend behind the policy: the host is resolved here and only a checked
    address is connected to (TLS is started on that connection with the URL's host name)."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(resolve(host, port), timeout)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
        refused: list[str] = []
        last: Exception | None = None
        for address in addresses:
            why = self.policy.refusal(address)
            if why is not None:
                refused.append(f"{address} ({why})")
                continue
            try:
                return await self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        if last is not None:
            raise last
        raise RefusedAddress(f"{host!r} resolves only to refused addresses: {', '.join(refused) or 'none'}")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise RefusedAddress("unix sockets are not webhook endpoints")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_client(
    policy: AddressPolicy, *, timeout: float, connections: int, backend: GuardedBackend | None = None
) -> httpx.AsyncClient:
    """An HTTP client that connects only where ``policy`` allows (through ``backend``, which
    several clients may share), follows no redirect and reads no proxy settings from the
    environment."""
    transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=connections))
    transport._pool = httpcore.AsyncConnectionPool(  # the same pool httpx builds, with our backend
        ssl_context=httpx.create_ssl_context(),
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=5.0,
        http1=True,
        http2=False,
        network_backend=backend or GuardedBackend(policy),
    )
    return httpx.AsyncClient(
        transport=transport, timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False
    )
