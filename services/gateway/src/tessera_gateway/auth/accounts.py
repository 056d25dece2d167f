"""Accounts that may obtain tokens: users (password grant) and clients (client credentials)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tessera_shared.auth import LOCAL_USER_ROLES, Role

LOCAL_PASSWORD = "local"  # noqa: S105 - the documented password of the local-mode demo accounts only

# The accounts ARCHITECTURE.md promises in local mode; never present outside it.
LOCAL_ACCOUNTS: dict[str, tuple[Literal["user", "client"], tuple[str, ...]]] = {
    **{name: ("user", roles) for name, roles in LOCAL_USER_ROLES.items()},
    "partner": ("client", (Role.PARTNER,)),
    # Service-to-service callers: sales creating a customer when it converts a lead; sales, the
    # desk and billing reading a customer they do not know yet (docs/domain.md §10.2).
    "svc-sales": ("client", (Role.SERVICE,)),
    "svc-service-desk": ("client", (Role.SERVICE,)),
    "svc-billing": ("client", (Role.SERVICE,)),
}


@dataclass(frozen=True)
class Account:
    username: str
    password_hash: str
    roles: tuple[str, ...]
    kind: Literal["user", "client"]


class AccountDirectory:
    def __init__(self, accounts: list[Account], hasher: PasswordHasher) -> None:
        self._accounts = {a.username: a for a in accounts}
        self._hasher = hasher
        # Verifying against a dummy hash for unknown names keeps their timing like known ones.
        self._dummy = hasher.hash("not-a-real-password")

    @classmethod
    def from_settings(cls, accounts_json: str, *, local: bool) -> AccountDirectory:
        # Local mode trades hash cost for a fast start; production uses argon2's defaults.
        hasher = PasswordHasher(time_cost=1, memory_cost=8192) if local else PasswordHasher()
        accounts = [
            Account(
                username=a["username"],
                password_hash=a["password_hash"],
                roles=tuple(a["roles"]),
                kind=a.get("kind", "user"),
            )
            for a in orjson.loads(accounts_json)
        ]
        if local and not accounts:
            local_hash = hasher.hash(LOCAL_PASSWORD)
            accounts = [Account(name, local_hash, roles, kind) for name, (kind, roles) in LOCAL_ACCOUNTS.items()]
        return cls(accounts, hasher)

    def get(self, username: str) -> Account | None:
        return self._accounts.get(username)

    def accounts(self) -> list[Account]:
        return list(self._accounts.values())

    def authenticate(self, username: str, password: str, kind: Literal["user", "client"]) -> Account | None:
        account = self._accounts.get(username)
        try:
            self._hasher.verify(account.password_hash if account else self._dummy, password)
        except (VerificationError, InvalidHashError):
            return None
        if account is None or account.kind != kind:
            return None
        return account
