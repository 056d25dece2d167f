"""Bearer JWTs verified by every service, and role checks.

The gateway issues the tokens; each service verifies them itself, so the gateway is not the
only wall. HS256 with a shared secret in local mode, RS256 with the gateway's public key in
production.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, Request, Security
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel
from sqlalchemy import ColumnElement, or_

from tessera_shared.http.errors import Problem

log = logging.getLogger(__name__)

# API keys (tessera_shared.api_keys) begin with this; any other bearer token is a JWT.
API_KEY_PREFIX = "tsk_"
LEEWAY = 10  # seconds of clock skew allowed between the issuer and this service
VERIFIED_CACHE_SIZE = 4096
# The header by which the gateway tells a service which teams the caller leads (a JWS signed with
# the token key; see TokenCodec.issue_team_scope). Clients cannot send it: the gateway strips it.
TEAM_SCOPE_HEADER = "X-Tessera-Team-Scope"
# The scope's audience differs from the tokens' so that one can never pass for the other.
TEAM_SCOPE_AUDIENCE_SUFFIX = "#team-scope"
TEAM_SCOPE_TTL = timedelta(minutes=5)


class Role(StrEnum):
    ADMIN = "admin"
    SALES_MANAGER = "sales_manager"
    SALES_REP = "sales_rep"
    SUPPORT_AGENT = "support_agent"
    BILLING_CLERK = "billing_clerk"
    FINANCE_MANAGER = "finance_manager"
    PARTNER = "partner"
    # Service-to-service calls made with client credentials.
    SERVICE = "service"


ALL_ROLES = frozenset(Role)
STAFF_ROLES = frozenset(Role) - {Role.PARTNER, Role.SERVICE}

# The local-mode demo users (`make run`; never present outside local mode), with their roles: the
# gateway gives them tokens (password "local"), notifications routes to them.
LOCAL_USER_ROLES: dict[str, tuple[str, ...]] = {
    "admin": (Role.ADMIN,),
    "manager": (Role.SALES_MANAGER,),
    "rep1": (Role.SALES_REP,),
    "rep2": (Role.SALES_REP,),
    # A rep who leads the local sales team (rep1, rep2): sees and changes the team's records.
    "lead1": (Role.SALES_REP,),
    "agent": (Role.SUPPORT_AGENT,),
    "clerk": (Role.BILLING_CLERK,),
    "finance": (Role.FINANCE_MANAGER,),
}


class Principal(BaseModel):
    subject: str
    roles: frozenset[str]
    kind: Literal["user", "client"] = "user"
    name: str | None = None
    # The token's id, expiry (epoch seconds) and login session (the refresh chain, claim "sid"):
    # what revoking it needs (tessera_shared.revocation).
    jti: str | None = None
    expires_at: float | None = None
    session: str | None = None
    # The team level of the owner rules: the ids of the teams the caller leads and the usernames
    # of those teams' members, as the gateway's team-scope header says (empty without one).
    led_teams: frozenset[str] = frozenset()
    team_members: frozenset[str] = frozenset()

    def has_any(self, roles: Iterable[str]) -> bool:
        return not self.roles.isdisjoint(roles)

    def may(self, roles: Iterable[str]) -> bool:
        """What ``require_roles(*roles)`` lets through: one of ``roles``, or admin."""
        return self.has_any({*roles, Role.ADMIN})


class TokenCodec:
    """Signs (at the gateway) and verifies (everywhere) access tokens."""

    def __init__(
        self,
        *,
        algorithm: str,
        signing_key: str | None,
        verify_key: str | None = None,
        issuer: str,
        audience: str,
        key_id: str | None = None,
    ) -> None:
        self.algorithm = algorithm
        self.key_id = key_id
        self._signing_key = signing_key
        self._verify_key = verify_key or signing_key
        self.issuer = issuer
        self.audience = audience
        # token -> (principal, not-before, expiry): a token is verified once, then only its
        # validity window is checked (a tampered token is another string: a miss).
        self._verified: dict[str, tuple[Principal, float, float]] = {}
        # team-scope header -> (subject, teams, members, expiry), verified once like tokens.
        self._scopes: dict[str, tuple[str, frozenset[str], frozenset[str], float]] = {}

    def issue(
        self,
        subject: str,
        roles: Iterable[str],
        *,
        kind: Literal["user", "client"] = "user",
        name: str | None = None,
        ttl: timedelta = timedelta(minutes=15),
        extra: dict[str, Any] | None = None,
    ) -> str:
        if self._signing_key is None:
            raise RuntimeError("this codec can only verify")
        now = datetime.now(UTC)
        claims = {
            "sub": subject,
            "roles": sorted(set(roles)),
            "kind": kind,
            "name": name or subject,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            **(extra or {}),
        }
        headers = {"kid": self.key_id} if self.key_id else None
        return jwt.encode(claims, self._signing_key, algorithm=self.algorithm, headers=headers)

    def verify(self, token: str) -> Principal:
        hit = self._verified.get(token)
        if hit is not None:
            principal, not_before, expires = hit
            if not_before - LEEWAY <= time.time() < expires + LEEWAY:
                return principal
            del self._verified[token]  # and decode below says why it no longer passes
        principal, not_before, expires = self._decode(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]  # the oldest entry
        self._verified[token] = (principal, not_before, expires)
        return principal

    def _decode(self, token: str) -> tuple[Principal, float, float]:
        if self._verify_key is None:
            raise RuntimeError("this codec has no key to verify with")
        try:
            claims = jwt.decode(
                token,
                self._verify_key,
                algorithms=[self.algorithm],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                leeway=LEEWAY,
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("token expired", "invalid_token") from None
        except jwt.InvalidTokenError as exc:
            raise _unauthorized(f"invalid token: {exc}", "invalid_token") from None
        roles = claims.get("roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise _unauthorized("invalid token: roles claim", "invalid_token")
        principal = Principal(
            subject=str(claims["sub"]),
            roles=frozenset(roles),
            kind="client" if claims.get("kind") == "client" else "user",
            name=claims.get("name"),
            jti=claims.get("jti") if isinstance(claims.get("jti"), str) else None,
            expires_at=float(claims["exp"]),
            session=claims.get("sid") if isinstance(claims.get("sid"), str) else None,
        )
        return principal, float(claims.get("nbf", claims["iat"])), float(claims["exp"])

    def issue_team_scope(
        self, subject: str, teams: Iterable[str], members: Iterable[str], *, ttl: timedelta = TEAM_SCOPE_TTL
    ) -> str:
        """The gateway's signed statement that ``subject`` leads ``teams`` with ``members``."""
        if self._signing_key is None:
            raise RuntimeError("this codec can only verify")
        now = datetime.now(UTC)
        claims = {
            "sub": subject,
            "teams": sorted(set(teams)),
            "members": sorted(set(members)),
            "iss": self.issuer,
            "aud": self.audience + TEAM_SCOPE_AUDIENCE_SUFFIX,
            "iat": now,
            "exp": now + ttl,
        }
        headers = {"kid": self.key_id} if self.key_id else None
        return jwt.encode(claims, self._signing_key, algorithm=self.algorithm, headers=headers)

    def verify_team_scope(self, value: str, subject: str) -> tuple[frozenset[str], frozenset[str]] | None:
        """The (teams, members) a team-scope header grants ``subject``; None when it is forged,
        expired or names another subject (the caller then has no team level: least privilege)."""
        hit = self._scopes.get(value)
        if hit is None:
            if self._verify_key is None:
                return None
            try:
                claims = jwt.decode(
                    value,
                    self._verify_key,
                    algorithms=[self.algorithm],
                    issuer=self.issuer,
                    audience=self.audience + TEAM_SCOPE_AUDIENCE_SUFFIX,
                    options={"require": ["exp", "sub", "iss", "aud"]},
                    leeway=LEEWAY,
                )
                teams, members = claims.get("teams"), claims.get("members")
                if not isinstance(teams, list) or not isinstance(members, list):
                    raise jwt.InvalidTokenError("teams and members must be lists")
            except jwt.InvalidTokenError as exc:
                log.warning("ignoring an invalid %s header: %s", TEAM_SCOPE_HEADER, exc)
                return None
            hit = (str(claims["sub"]), frozenset(map(str, teams)), frozenset(map(str, members)), float(claims["exp"]))
            if len(self._scopes) >= VERIFIED_CACHE_SIZE:
                del self._scopes[next(iter(self._scopes))]
            self._scopes[value] = hit
        sub, teams_, members_, expires = hit
        if time.time() >= expires + LEEWAY:
            del self._scopes[value]
            log.warning("ignoring an expired %s header", TEAM_SCOPE_HEADER)
            return None
        if sub != subject:
            log.warning("ignoring a %s header issued to %r, presented with %r's token", TEAM_SCOPE_HEADER, sub, subject)
            return None
        return teams_, members_


def _unauthorized(detail: str, error: str | None = None) -> Problem:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return Problem(401, detail, headers={"WWW-Authenticate": challenge})


# Declares the bearer scheme in OpenAPI, with the roles as OAuth2 scopes, so every operation's
# required roles are visible in the docs (and testable from them).
bearer_scheme = OAuth2PasswordBearer(
    tokenUrl="/auth/token",
    auto_error=False,
    scheme_name="tessera",
    scopes={role.value: f"the {role.value} role" for role in Role},
)


async def principal_from_request(
    request: Request, _: Annotated[str | None, Depends(bearer_scheme)] = None
) -> Principal:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization")
    if not header:
        raise _unauthorized("a bearer token is required")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <token>'", "invalid_request")
    token = token.strip()
    if token.startswith(API_KEY_PREFIX):
        keys = getattr(request.app.state, "api_keys", None)
        if keys is None:
            raise _unauthorized("API keys are not accepted here", "invalid_token")
        key_principal: Principal = keys.resolve(token)  # a hash and a dict lookup (tessera_shared.api_keys)
        request.state.principal = key_principal
        return key_principal
    codec: TokenCodec = request.app.state.token_codec
    principal = codec.verify(token)
    revoked = getattr(request.app.state, "revoked_tokens", None)
    if revoked is not None and principal.jti in revoked:
        raise Problem(
            401,
            "token revoked",
            slug="token-revoked",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token", error_description="token revoked"'},
        )
    scope_header = request.headers.get(TEAM_SCOPE_HEADER)
    if scope_header:
        scope = codec.verify_team_scope(scope_header, principal.subject)
        if scope is not None:
            principal = principal.model_copy(update={"led_teams": scope[0], "team_members": scope[1]})
    request.state.principal = principal
    return principal


def visible_owners(principal: Principal) -> frozenset[str]:
    """The owners whose records a caller limited to their own sees: themselves and, when they
    lead teams, those teams' members."""
    return principal.team_members | {principal.subject}


@dataclass(frozen=True)
class OwnerScope:
    """The records a caller limited to their own may see and change (the owner rules' rep and
    team levels): those owned by one of ``owners``, or belonging to one of ``teams``."""

    owners: frozenset[str]
    teams: frozenset[str] = frozenset()

    @classmethod
    def of(cls, principal: Principal) -> OwnerScope:
        return cls(visible_owners(principal), principal.led_teams)

    @classmethod
    def only(cls, owner: str) -> OwnerScope:
        return cls(frozenset({owner}))

    def admits(self, owner: str | None, team_id: object = None) -> bool:
        return (owner is not None and owner in self.owners) or (team_id is not None and str(team_id) in self.teams)

    def narrowed(self, owner_id: str | None) -> OwnerScope | None:
        """This scope limited to one owner's records (a list's ``owner_id`` filter); None when
        that owner is outside it."""
        if owner_id is None:
            return self
        return OwnerScope.only(owner_id) if owner_id in self.owners else None

    def clause(self, owner_col: Any, team_col: Any = None) -> ColumnElement[bool]:
        """``admits`` as SQL: ``owner IN (owners) [OR team_id IN (teams)]`` (``team_col``: a Uuid
        or text column of team ids)."""
        owners = sorted(self.owners)
        clause: ColumnElement[bool] = owner_col == owners[0] if len(owners) == 1 else owner_col.in_(owners)
        if team_col is not None and self.teams:
            teams: list[Any] = sorted(self.teams)
            if getattr(getattr(team_col, "type", None), "python_type", str) is uuid.UUID:
                teams = [uuid.UUID(t) for t in teams if _is_uuid(t)]
            clause = or_(clause, team_col.in_(teams))
        return clause


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def owns(principal: Principal, owner: str | None, team_id: object = None) -> bool:
    """The team level of the owner rules, for one record: the caller owns it, or its owner is a
    member of a team the caller leads, or the record belongs to such a team."""
    return OwnerScope.of(principal).admits(owner, team_id)


def owner_clause(principal: Principal, owner_col: Any, team_col: Any = None) -> ColumnElement[bool]:
    """``owns`` as SQL (see OwnerScope.clause)."""
    return OwnerScope.of(principal).clause(owner_col, team_col)


CurrentPrincipal = Annotated[Principal, Depends(principal_from_request)]


def require_roles(*roles: str) -> Any:
    """A dependency: the caller must hold one of ``roles`` (admin always may)."""
    allowed = frozenset(roles) | {Role.ADMIN}

    async def _check(principal: CurrentPrincipal) -> Principal:
        if not principal.may(allowed):
            raise Problem(
                403,
                "your role may not do this",
                required_roles=sorted(allowed),
            )
        return principal

    # The allowed roles become the operation's OAuth2 scopes in OpenAPI.
    return Security(_check, scopes=sorted(allowed))


def public(reason: str) -> dict[str, Any]:
    """``openapi_extra`` for a route that needs no staff token (say why, e.g. a survey link)."""
    return {"x-tessera-public": reason}
