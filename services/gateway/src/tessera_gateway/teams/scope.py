"""The team-scope header the gateway adds to a team lead's forwarded requests.

``X-Tessera-Team-Scope`` is a JWS signed with the gateway's token key (TokenCodec.issue_team_scope:
claims ``sub``, ``teams`` = the ids of the teams the caller leads, ``members`` = their members'
usernames, ``exp`` in 5 minutes); every service verifies it (tessera_shared.auth) and widens the
owner rules by it. A request costs a dict lookup: every replica keeps who leads which team in
memory, re-read from its table at most once a second while requests come (so a change through
another replica is seen within a second) and at once after a change through this replica commits;
the signed value is kept per (lead, generation of the teams) while it has more than half its life.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_gateway.models import Team
from tessera_gateway.teams.service import all_teams
from tessera_shared.api_keys import SUBJECT_PREFIX
from tessera_shared.auth import TEAM_SCOPE_HEADER, TEAM_SCOPE_TTL, Principal, TokenCodec
from tessera_shared.db import read_session

log = logging.getLogger(__name__)

TTL = 1.0  # seconds a replica trusts its copy of the teams
SCOPE_HEADER = TEAM_SCOPE_HEADER.lower()


@dataclass(frozen=True)
class Led:
    teams: frozenset[str]
    members: frozenset[str]


def led_by(teams: list[Team]) -> dict[str, Led]:
    """Who leads which teams, and those teams' members (a lead may lead several)."""
    out: dict[str, Led] = {}
    for t in teams:
        if t.lead is None:
            continue
        held = out.get(t.lead, Led(frozenset(), frozenset()))
        out[t.lead] = Led(held.teams | {str(t.id)}, held.members | set(t.members))
    return out


class TeamScopes:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], codec: TokenCodec, ttl: float = TTL) -> None:
        self._sessions = sessions
        self._codec = codec
        self.ttl = ttl
        self._leads: dict[str, Led] = {}
        self._loaded_at = -1e9
        self._lock = asyncio.Lock()
        self._loaded = False
        self._forgotten = 0  # changes committed here, so a read started before one is not trusted
        self.generation = 0
        self.reads = 0  # table reads, for tests and the curious
        self._signed: dict[tuple[str, int], tuple[str, float]] = {}

    def forget(self) -> None:
        """A change committed here: the next request waits for a fresh read (none started before)."""
        self._loaded_at = -1e9
        self._forgotten += 1

    def forget_on_commit(self, session: AsyncSession) -> None:
        """Re-read at the next request after ``session`` commits (a change through this replica)."""
        event.listen(session.sync_session, "after_commit", lambda _: self.forget(), once=True)

    async def _current(self) -> dict[str, Led]:
        if time.monotonic() - self._loaded_at < self.ttl:
            return self._leads
        if self._lock.locked() and self._loaded and self._loaded_at > 0:
            return self._leads  # merely old: another request is re-reading, no one else waits for it
        async with self._lock:
            while time.monotonic() - self._loaded_at >= self.ttl:
                started, forgotten = time.monotonic(), self._forgotten
                try:
                    async with read_session(self._sessions) as session:
                        leads = led_by(await all_teams(session))
                except Exception as exc:
                    # The last known teams stay (a lead keeps their scope); tried again after ttl.
                    log.warning("cannot read the teams; the last known stay", extra={"error": repr(exc)})
                    self._loaded_at = started
                    return self._leads
                self.reads += 1
                self._loaded = True
                if leads != self._leads:
                    self._leads = leads
                    self.generation += 1
                    self._signed.clear()
                if forgotten == self._forgotten:
                    self._loaded_at = started  # else a change committed meanwhile: read again
        return self._leads

    async def led(self, subject: str) -> Led | None:
        return (await self._current()).get(subject)

    async def header_for(self, subject: str) -> str | None:
        """The signed scope for ``subject``, or None when they lead no team."""
        led = (await self._current()).get(subject)
        if led is None:
            return None
        slot = (subject, self.generation)
        now = time.monotonic()
        held = self._signed.get(slot)
        life = TEAM_SCOPE_TTL.total_seconds()
        if held is not None and held[1] - now > life / 2:
            return held[0]
        value = self._codec.issue_team_scope(subject, led.teams, led.members)
        if len(self._signed) > 10_000:
            self._signed.clear()
        self._signed[slot] = (value, now + life)
        return value


async def team_scope_headers(request: Request) -> dict[str, str]:
    """The headers that convey the caller's team scope on a call made for them: the signed
    header when the caller (a user, not an API key) leads a team, else none. Whatever a client
    sent under that name is never forwarded (the proxy forwards listed headers only)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    scopes: TeamScopes | None = getattr(request.app.state, "team_scopes", None)
    if principal is None or scopes is None or principal.kind != "user" or principal.subject.startswith(SUBJECT_PREFIX):
        return {}
    value = await scopes.header_for(principal.subject)
    return {} if value is None else {SCOPE_HEADER: value}
