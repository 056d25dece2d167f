"""The user accounts of this CRM as every service process knows them (``user`` custom fields).

Accounts live in the gateway's configuration; services hold no list of their own. Each process
but the gateway follows the gateway's ``GET /auth/usernames`` (:func:`users_feed`, in the app's
lifespan, like the token revocations): the SHA-256 digests of the user accounts' names, loaded
at start and refreshed every ``settings.user_directory_poll_seconds`` (30 s). The feed needs no
credential and names nobody: a digest only confirms a name already guessed.

:class:`KnownUsers` lives on ``app.state.known_users`` and rides every session of the app
(``session.info[SESSION_KEY]``), where custom field validation finds it. Until the first answer
(no gateway configured, or unreachable) it knows nothing and refuses nothing: a ``user`` value
is then only checked to be a name of 1..200 characters (fail open).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from tessera_shared.feeds import Poller, gateway_client, polling
from tessera_shared.settings import ServiceSettings

log = logging.getLogger(__name__)

FEED_PATH = "/auth/usernames"
SESSION_KEY = "tessera.known_users"


def digest(username: str) -> str:
    """What the feed lists of a username: its SHA-256, hex."""
    return hashlib.sha256(username.encode()).hexdigest()


class KnownUsers:
    """The digests of the CRM's usernames, or nothing yet (then every name passes)."""

    def __init__(self, usernames: Iterable[str] | None = None) -> None:
        self._digests: frozenset[str] | None = None
        if usernames is not None:
            self.replace(digest(u) for u in usernames)

    @property
    def loaded(self) -> bool:
        return self._digests is not None

    def replace(self, digests: Iterable[str]) -> None:
        self._digests = frozenset(digests)

    def refuses(self, username: str) -> bool:
        """True only when the list is loaded and ``username`` is not in it."""
        return self._digests is not None and digest(username) not in self._digests


def known_users_of(session: Any) -> KnownUsers | None:
    """The app's :class:`KnownUsers` a session carries (None for a session made elsewhere)."""
    found = session.info.get(SESSION_KEY)
    return found if isinstance(found, KnownUsers) else None


class UsersPoller(Poller):
    """Replaces a :class:`KnownUsers` every ``interval`` seconds with ``fetch()``; the last list
    known stays in force while the source fails."""

    log = log
    failing = "cannot read the user directory; user custom fields keep the last list known (any name before the first)"
    current = "the user directory is current again"

    def __init__(self, users: KnownUsers, fetch: Callable[[], Awaitable[list[str]]], interval: float) -> None:
        super().__init__(interval)
        self.users = users
        self.fetch = fetch

    async def refresh(self) -> None:
        self.users.replace(await self.fetch())


def http_fetch(
    gateway_url: str, timeout: float = 2.0, *, transport: httpx.AsyncBaseTransport | None = None
) -> tuple[httpx.AsyncClient, Callable[[], Awaitable[list[str]]]]:
    """A client and a fetch function reading the gateway's ``/auth/usernames`` (``transport``:
    tests reach an in-process gateway)."""
    client = gateway_client(gateway_url, timeout, transport=transport)

    async def fetch() -> list[str]:
        r = await client.get(FEED_PATH)
        r.raise_for_status()
        return [str(d) for d in r.json()["items"]]

    return client, fetch


@asynccontextmanager
async def users_feed(app: FastAPI, service: str, settings: ServiceSettings) -> AsyncIterator[None]:
    """Every process but the gateway (which has the accounts) follows the gateway's usernames."""
    if service == "gateway" or not settings.user_directory:
        yield
        return
    client, fetch = http_fetch(settings.gateway_url)
    async with polling(UsersPoller(app.state.known_users, fetch, settings.user_directory_poll_seconds), client):
        yield
