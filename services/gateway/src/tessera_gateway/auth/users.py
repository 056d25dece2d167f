"""The CRM's accounts as a directory: ``GET /api/v1/users`` (staff and service clients; user
pickers) and the services' feed ``GET /auth/usernames`` (tessera_shared.users: a ``user``
custom field must name one of the user accounts).

Accounts are the gateway's static configuration (``settings.accounts``), a few dozen at most:
the directory answers all of them in one page (``next_cursor`` is always null).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tessera_gateway.auth.accounts import AccountDirectory
from tessera_shared.auth import STAFF_ROLES, Principal, Role, public, require_roles
from tessera_shared.http.pagination import Page
from tessera_shared.users import FEED_PATH, digest

router = APIRouter(tags=["users"])
# The services' feed: no credential, so outside the per-token rate limit (like /auth/revocations).
feed_router = APIRouter(tags=["auth"])

Reader = Annotated[Principal, require_roles(*STAFF_ROLES, Role.SERVICE)]


class UserOut(BaseModel):
    username: str
    kind: Literal["user", "client"] = Field(description="user: a person (password grant); client: a machine")
    roles: list[str]


class UsernamesOut(BaseModel):
    items: list[str] = Field(description="SHA-256 (hex) of each user account's username")


def _accounts(request: Request) -> AccountDirectory:
    directory: AccountDirectory = request.app.state.accounts
    return directory


@router.get(
    "/api/v1/users",
    response_model=Page[UserOut],
    summary="The CRM's accounts (users and clients), sorted by username",
    description="Staff roles and service clients read it (e.g. for user pickers). Accounts are "
    "the gateway's configuration and few: one page holds them all (`next_cursor` is null).",
)
async def list_users(request: Request, principal: Reader) -> Page[UserOut]:
    items = [
        UserOut(username=a.username, kind=a.kind, roles=sorted(a.roles))
        for a in sorted(_accounts(request).accounts(), key=lambda a: a.username)
    ]
    return Page(items=items, next_cursor=None)


@feed_router.get(
    FEED_PATH,
    response_model=UsernamesOut,
    summary="Digests of the user accounts' names (what `user` custom fields must name)",
    description="Followed by every service process every 30 s. Lists the SHA-256 of each user "
    "account's username, not the names, so it needs no credential.",
    openapi_extra=public("lists digests of usernames only, no names"),
)
async def usernames(request: Request) -> UsernamesOut:
    return UsernamesOut(items=sorted(digest(a.username) for a in _accounts(request).accounts() if a.kind == "user"))
