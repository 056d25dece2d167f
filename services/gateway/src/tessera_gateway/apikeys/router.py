"""``/api/v1/api-keys``: server-to-server credentials, managed by admins (see service.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from tessera_gateway.apikeys import service
from tessera_gateway.models import ApiKey
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.inputs import IsoAwareDatetime, Trim
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/api/v1/api-keys", tags=["api keys"])

Admin = Annotated[Principal, require_roles(Role.ADMIN)]
# Every role but admin (service.KEY_ROLES; a test holds the two equal).
KeyRole = Literal[
    "billing_clerk", "finance_manager", "partner", "sales_manager", "sales_rep", "service", "support_agent"
]


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Trim(min_length=1, max_length=200)] = Field(
        description="Who uses the key (audit rows name it)"
    )
    roles: list[KeyRole] = Field(min_length=1, max_length=10, description="Any roles but admin")
    expires_at: IsoAwareDatetime | None = Field(default=None, description="RFC 3339 with a time zone; null: never")
    rate_limit_per_minute: StrictInt | None = Field(
        default=None, ge=1, le=100_000, description="Requests per minute through the gateway; null: the default"
    )


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart")
    roles: list[str]
    rate_limit_per_minute: int | None
    status: Literal["active", "expired", "revoked"]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(description="Written behind: up to a minute late")
    subject: str = Field(description="The key's calls' subject (audit rows, rate limits)")

    @classmethod
    def of(cls, row: ApiKey) -> ApiKeyOut:
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            roles=list(row.roles),
            rate_limit_per_minute=row.rate_limit_per_minute,
            status=service.status_of(row),
            created_by=row.created_by,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            last_used_at=row.last_used_at,
            subject=f"apikey:{row.id}",
        )


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="The key itself (tsk_...): shown this once, stored only hashed")


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyCreatedOut,
    summary="Create an API key (shown once)",
    description="A bearer token (`Authorization: Bearer tsk_...`) for server-to-server callers, "
    "accepted by the gateway and every service until it expires or is revoked. The key is in this "
    "answer only; the gateway keeps its SHA-256.",
)
async def create_api_key(request: Request, session: SessionDep, body: ApiKeyIn, principal: Admin) -> JSONResponse:
    row, key = await service.create_key(
        session,
        principal,
        name=body.name,
        roles=body.roles,
        expires_at=body.expires_at,
        rate_limit_per_minute=body.rate_limit_per_minute,
    )
    # This replica knows it at once; the others within api_keys_poll_seconds.
    request.app.state.api_keys.put(service.entry_of_row(row))
    if row.rate_limit_per_minute is not None:
        request.app.state.api_key_policies.per_minute[f"apikey:{row.id}"] = row.rate_limit_per_minute
    out = ApiKeyCreatedOut(**ApiKeyOut.of(row).model_dump(), key=key)
    return JSONResponse(
        out.model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"/api/v1/api-keys/{row.id}", "Cache-Control": "no-store"},
    )


@router.get("", response_model=Page[ApiKeyOut], summary="List API keys (without the keys)")
async def list_api_keys(session: SessionDep, page: PageQuery, _: Admin) -> Page[ApiKeyOut]:
    rows, cursor = await service.list_keys(session, page)
    return Page[ApiKeyOut](items=[ApiKeyOut.of(r) for r in rows], next_cursor=cursor)


@router.get("/{api_key_id}", response_model=ApiKeyOut, summary="An API key (without the key)")
async def get_api_key(api_key_id: uuid.UUID, session: SessionDep, _: Admin) -> ApiKeyOut:
    return ApiKeyOut.of(await service.get_key(session, api_key_id))


@router.delete(
    "/{api_key_id}",
    status_code=204,
    summary="Revoke an API key",
    description="Refused at once by this gateway replica, by the others within a second, and by "
    "every service within seconds (`api_key.revoked`). Revoking a revoked key changes nothing.",
    responses={204: {"description": "revoked"}},
)
async def revoke_api_key(request: Request, api_key_id: uuid.UUID, session: SessionDep, principal: Admin) -> Response:
    await service.revoke_key(session, principal, api_key_id, request.app.state.api_keys)
    return Response(status_code=204)
