"""``POST /auth/token`` (OAuth2: password, client credentials, refresh token) and the JWKS."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from tessera_gateway.auth import refresh
from tessera_gateway.auth.accounts import Account, AccountDirectory
from tessera_gateway.auth.throttle import LoginThrottle, login_keys
from tessera_gateway.limits.store import retry_after_header
from tessera_shared.deps import SessionDep
from tessera_shared.http.errors import problem_response

router = APIRouter(tags=["auth"])


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    scope: str
    refresh_token: str | None = None


def _oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> Response:
    # RFC 6749 §5.2 error members inside a problem+json body.
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Basic"}
    extra: dict[str, Any] = {"field": "grant_type"} if error == "unsupported_grant_type" else {}
    return problem_response(
        status,
        slug=f"oauth-{error.replace('_', '-')}",
        detail=description,
        error=error,
        error_description=description,
        headers=headers,
        **extra,
    )


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, secret = base64.b64decode(value).decode().partition(":")
    except Exception:
        return None
    return user, secret


async def _authenticate(
    request: Request, name: str, secret: str, kind: Literal["user", "client"]
) -> Account | Response:
    accounts: AccountDirectory = request.app.state.accounts
    throttle: LoginThrottle = request.app.state.login_throttle
    # The client's address: the connecting peer, or what a trusted proxy reports (main.py).
    keys = login_keys(name, request.client.host if request.client else "?")
    wait = await throttle.attempt(keys)
    if wait is not None:
        return problem_response(
            429,
            slug="login-throttled",
            detail="too many failed logins; try again later",
            headers={"Retry-After": retry_after_header(wait)},
        )
    # Hash verification is CPU-bound: keep the event loop free for other requests.
    account = await asyncio.to_thread(accounts.authenticate, name, secret, kind)
    if account is None:  # the attempt stays counted as a failure
        if kind == "client":
            return _oauth_error(401, "invalid_client", "unknown client or wrong secret")
        return _oauth_error(400, "invalid_grant", "unknown user or wrong password")
    await throttle.succeeded(keys)
    return account


def _tokens(
    request: Request, account: Account, refresh_token: str | None, family_id: uuid.UUID | None = None
) -> JSONResponse:
    settings = request.app.state.settings
    ttl = settings.access_token_ttl_seconds
    # "sid" names the refresh chain, so that logging out with the access token ends it too.
    access = request.app.state.token_codec.issue(
        account.username,
        account.roles,
        kind=account.kind,
        ttl=timedelta(seconds=ttl),
        extra={"sid": str(family_id)} if family_id else None,
    )
    body = TokenResponse(
        access_token=access, expires_in=ttl, scope=" ".join(account.roles), refresh_token=refresh_token
    )
    return JSONResponse(body.model_dump(exclude_none=True), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    summary="Obtain an access token (OAuth2)",
    responses={
        400: {"description": "invalid grant"},
        401: {"description": "invalid client"},
        429: {"description": "too many failed logins"},
    },
)
async def issue_token(
    request: Request,
    session: SessionDep,
    grant_type: Annotated[str, Form(max_length=50)],
    username: Annotated[str | None, Form(max_length=200)] = None,
    password: Annotated[str | None, Form(max_length=200)] = None,
    client_id: Annotated[str | None, Form(max_length=200)] = None,
    client_secret: Annotated[str | None, Form(max_length=200)] = None,
    refresh_token: Annotated[str | None, Form(max_length=200)] = None,
    scope: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    refresh_ttl = timedelta(seconds=request.app.state.settings.refresh_token_ttl_seconds)
    if grant_type == "password":
        if not username or not password:
            return _oauth_error(400, "invalid_request", "username and password are required")
        account = await _authenticate(request, username, password, "user")
        if isinstance(account, Response):
            return account
        family = uuid.uuid4()
        issued = await refresh.issue(session, account.username, refresh_ttl, family_id=family)
        return _tokens(request, account, issued, family)
    if grant_type == "client_credentials":
        cid, secret = _basic_credentials(request) or (client_id, client_secret)
        if not cid or not secret:
            return _oauth_error(401, "invalid_client", "client_id and client_secret are required")
        account = await _authenticate(request, cid, secret, "client")
        if isinstance(account, Response):
            return account
        return _tokens(request, account, None)  # clients authenticate again instead (RFC 6749 §4.4.3)
    if grant_type == "refresh_token":
        if not refresh_token:
            return _oauth_error(400, "invalid_request", "refresh_token is required")
        try:
            subject, successor, family = await refresh.rotate(session, refresh_token, refresh_ttl)
        except refresh.InvalidRefreshToken as exc:
            # Returned, not raised: a family revocation must be committed.
            return _oauth_error(400, "invalid_grant", str(exc))
        current = request.app.state.accounts.get(subject)
        if current is None:
            return _oauth_error(400, "invalid_grant", "the account no longer exists")
        return _tokens(request, current, successor, family)
    return _oauth_error(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported")


@router.get("/.well-known/jwks.json", summary="Public keys that verify the gateway's tokens")
async def get_jwks(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    if settings.jwt_algorithm != "RS256" or not settings.jwt_public_key:
        return {"keys": []}  # a shared HS256 secret is never published
    public_key = load_pem_public_key(settings.jwt_public_key.encode())
    if not isinstance(public_key, RSAPublicKey):
        raise TypeError("the RS256 public key is not an RSA key")  # as to_jwk would
    key = jwt.algorithms.RSAAlgorithm.to_jwk(public_key, as_dict=True)
    return {"keys": [{**key, "kid": settings.jwt_key_id, "use": "sig", "alg": "RS256"}]}
