"""Who the staff are: user names, roles, e-mail addresses, locales and teams.

The gateway holds the accounts (a configured JSON document, no table: its ``accounts_json``).
Notifications reads the same kind of document (``users_json``): each entry may carry the gateway's
fields and, beside them, ``email``, ``locale``, ``teams`` and ``lead_of``; one document can feed
both services. Every replica reads the same configuration, so routing is the same everywhere.
In local mode an empty document means the local accounts below (the gateway's local users, with
``<name>@tessera.local`` addresses).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import orjson

from tessera_shared.auth import LOCAL_USER_ROLES

Locale = Literal["en", "zh"]


@dataclass(frozen=True)
class User:
    username: str
    roles: frozenset[str]
    email: str | None = None
    locale: Locale = "en"
    teams: frozenset[str] = field(default_factory=frozenset)
    lead_of: frozenset[str] = field(default_factory=frozenset)


# The local users' teams (their names and roles: tessera_shared.auth.LOCAL_USER_ROLES, the ones the
# gateway gives tokens to): the sales team led by the manager; the support agent in the first tier
# and leading it; the admin in the upper tiers. (teams, lead_of) per user.
_LOCAL_TEAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "admin": (("tier3", "management"), ("tier2", "tier3", "management")),
    "manager": (("sales",), ("sales",)),
    "rep1": (("sales",), ()),
    "rep2": (("sales",), ()),
    "lead1": (("sales",), ()),
    "agent": (("tier1", "tier2"), ("tier1",)),
    "clerk": (("billing",), ()),
    "finance": (("billing",), ("billing",)),
}
LOCAL_USERS: tuple[User, ...] = tuple(
    User(name, frozenset(roles), f"{name}@tessera.local", "en", frozenset(teams), frozenset(lead_of))
    for name, roles in LOCAL_USER_ROLES.items()
    for teams, lead_of in [_LOCAL_TEAMS[name]]
)


class UserDirectory:
    def __init__(self, users: Iterable[User]) -> None:
        self._users = {u.username: u for u in users}

    @classmethod
    def from_json(cls, document: str, *, local: bool) -> UserDirectory:
        users = [
            User(
                username=str(entry["username"]),
                roles=frozenset(entry.get("roles", ())),
                email=entry.get("email"),
                locale="zh" if str(entry.get("locale", "en")).lower().startswith("zh") else "en",
                teams=frozenset(entry.get("teams", ())),
                lead_of=frozenset(entry.get("lead_of", ())),
            )
            for entry in orjson.loads(document)
            if entry.get("kind", "user") == "user"
        ]
        if local and not users:
            users = list(LOCAL_USERS)
        return cls(users)

    def get(self, username: str) -> User | None:
        return self._users.get(username)

    def with_role(self, role: str) -> list[str]:
        return sorted(u.username for u in self._users.values() if role in u.roles)

    def in_team(self, team: str) -> list[str]:
        return sorted(u.username for u in self._users.values() if team in u.teams)

    def leads_of(self, team: str) -> list[str]:
        return sorted(u.username for u in self._users.values() if team in u.lead_of)

    def __contains__(self, username: object) -> bool:
        return username in self._users
