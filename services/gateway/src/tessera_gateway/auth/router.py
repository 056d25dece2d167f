"""``POST /auth/token``: OAuth2 password grant for users, client credentials for systems."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tessera_gateway.auth.accounts import AccountDirectory
from tessera_shared.http.errors import problem_response

router = APIRouter(tags=["auth"])


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    scope: str


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    # RFC 6749 §5.2 error members inside a problem+json body.
    headers = {"WWW-Authenticate": "Basic"} if status == 401 else None
    return problem_response(status, slug=f"oauth-{error.replace('_', '-')}", detail=description,
                            error=error, error_description=description, headers=headers,
                            **({"field": "grant_type"} if error == "unsupported_grant_type" else {}))


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, secret = base64.b64decode(value).decode().partition(":")
    except Exception:
        return None
    return user, secret


@router.post("/auth/token", response_model=TokenResponse, summary="Obtain an access token (OAuth2)",
             responses={400: {"description": "invalid grant"}, 401: {"description": "invalid client"}})
async def token(
    request: Request,
    grant_type: Annotated[str, Form(max_length=50)],
    username: Annotated[str | None, Form(max_length=200)] = None,
    password: Annotated[str | None, Form(max_length=200)] = None,
    client_id: Annotated[str | None, Form(max_length=200)] = None,
    client_secret: Annotated[str | None, Form(max_length=200)] = None,
    scope: Annotated[str | None, Form(max_length=500)] = None,
) -> JSONResponse:
    accounts: AccountDirectory = request.app.state.accounts
    if grant_type == "password":
        if not username or not password:
            return _oauth_error(400, "invalid_request", "username and password are required")
        # Hash verification is CPU-bound: keep the event loop free for other requests.
        account = await asyncio.to_thread(accounts.authenticate, username, password, "user")
        if account is None:
            return _oauth_error(400, "invalid_grant", "unknown user or wrong password")
    elif grant_type == "client_credentials":
        basic = _basic_credentials(request)
        cid, secret = basic if basic else (client_id, client_secret)
        if not cid or not secret:
            return _oauth_error(401, "invalid_client", "client_id and client_secret are required")
        account = await asyncio.to_thread(accounts.authenticate, cid, secret, "client")
        if account is None:
            return _oauth_error(401, "invalid_client", "unknown client or wrong secret")
    else:
        return _oauth_error(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
    ttl = request.app.state.settings.access_token_ttl_seconds
    access = request.app.state.token_codec.issue(
        account.username, account.roles, kind=account.kind, ttl=timedelta(seconds=ttl)
    )
    body = TokenResponse(access_token=access, expires_in=ttl, scope=" ".join(account.roles))
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
