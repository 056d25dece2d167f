"""POST /auth/token: OAuth2 password grant and client credentials with the local accounts."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

import tessera_gateway.main as gateway_main
from tessera_gateway.main import create_app
from tessera_gateway.settings import GatewaySettings
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of, running


@pytest.fixture
async def gateway(databases: DatabaseFactory, backend: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    url = await databases.new("gateway", backend, migrations_of(gateway_main.__file__))
    app = create_app(GatewaySettings(database_url=url, log_json=False, login_max_failures=3))
    async with running(app) as client:
        yield app, client


@pytest.mark.parametrize(
    ("user", "role"),
    [
        ("admin", "admin"),
        ("manager", "sales_manager"),
        ("rep1", "sales_rep"),
        ("rep2", "sales_rep"),
        ("agent", "support_agent"),
        ("clerk", "billing_clerk"),
        ("finance", "finance_manager"),
    ],
)
async def test_password_grant_for_local_users(gateway, user: str, role: str) -> None:
    app, client = gateway
    r = await client.post("/auth/token", data={"grant_type": "password", "username": user, "password": "local"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert r.headers["cache-control"] == "no-store"
    principal = app.state.token_codec.verify(body["access_token"])
    assert principal.subject == user
    assert principal.roles == {role}
    assert principal.kind == "user"


async def test_wrong_password_is_invalid_grant(gateway) -> None:
    _, client = gateway
    r = await client.post("/auth/token", data={"grant_type": "password", "username": "admin", "password": "nope"})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["error"] == "invalid_grant"


async def test_unknown_user_is_invalid_grant(gateway) -> None:
    _, client = gateway
    r = await client.post("/auth/token", data={"grant_type": "password", "username": "mallory", "password": "local"})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


async def test_client_credentials_with_basic_auth(gateway) -> None:
    app, client = gateway
    basic = base64.b64encode(b"partner:local").decode()
    r = await client.post(
        "/auth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert r.status_code == 200, r.text
    principal = app.state.token_codec.verify(r.json()["access_token"])
    assert (principal.subject, principal.kind, principal.roles) == ("partner", "client", {"partner"})


async def test_client_credentials_in_form(gateway) -> None:
    _, client = gateway
    r = await client.post(
        "/auth/token", data={"grant_type": "client_credentials", "client_id": "partner", "client_secret": "local"}
    )
    assert r.status_code == 200


async def test_a_user_is_not_a_client(gateway) -> None:
    _, client = gateway
    r = await client.post(
        "/auth/token", data={"grant_type": "client_credentials", "client_id": "admin", "client_secret": "local"}
    )
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


async def test_unsupported_grant(gateway) -> None:
    _, client = gateway
    r = await client.post("/auth/token", data={"grant_type": "implicit"})
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"


async def test_missing_grant_type_names_the_field(gateway) -> None:
    _, client = gateway
    r = await client.post("/auth/token", data={"username": "admin"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "grant_type"


def test_no_local_accounts_outside_local_mode() -> None:
    from tessera_gateway.auth.accounts import AccountDirectory

    directory = AccountDirectory.from_settings("[]", local=False)
    assert directory.authenticate("admin", "local", "user") is None


async def password_tokens(client: httpx.AsyncClient, user: str = "rep1") -> dict:
    r = await client.post("/auth/token", data={"grant_type": "password", "username": user, "password": "local"})
    assert r.status_code == 200, r.text
    return r.json()


class TestRefreshTokens:
    async def test_password_grant_returns_a_refresh_token_that_rotates(self, gateway) -> None:
        app, client = gateway
        first = await password_tokens(client)
        r = await client.post(
            "/auth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        )
        assert r.status_code == 200, r.text
        second = r.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert app.state.token_codec.verify(second["access_token"]).subject == "rep1"

    async def test_reusing_a_spent_refresh_token_revokes_the_family(self, gateway) -> None:
        _, client = gateway
        first = await password_tokens(client)
        second = (
            await client.post(
                "/auth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
            )
        ).json()
        replay = await client.post(
            "/auth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        )
        assert replay.status_code == 400
        assert "reused" in replay.json()["error_description"]
        # The legitimate holder's newer token is dead too: the chain is compromised.
        r = await client.post(
            "/auth/token", data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
        )
        assert r.status_code == 400
        assert r.json()["error"] == "invalid_grant"

    async def test_unknown_refresh_token(self, gateway) -> None:
        _, client = gateway
        r = await client.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": "nope"})
        assert r.status_code == 400
        assert r.json()["error"] == "invalid_grant"

    async def test_client_credentials_get_no_refresh_token(self, gateway) -> None:
        _, client = gateway
        r = await client.post(
            "/auth/token", data={"grant_type": "client_credentials", "client_id": "partner", "client_secret": "local"}
        )
        assert "refresh_token" not in r.json()

    async def test_a_refresh_token_is_not_an_access_token(self, gateway) -> None:
        _, client = gateway
        refresh = (await password_tokens(client))["refresh_token"]
        r = await client.get("/api/v1/customers", headers={"Authorization": f"Bearer {refresh}"})
        assert r.status_code == 401


class TestLoginThrottling:
    async def test_locks_a_name_after_repeated_failures(self, gateway) -> None:
        _, client = gateway
        for _ in range(3):
            r = await client.post(
                "/auth/token", data={"grant_type": "password", "username": "rep2", "password": "guess"}
            )
            assert r.status_code == 400
        r = await client.post("/auth/token", data={"grant_type": "password", "username": "rep2", "password": "local"})
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) > 0
        assert r.json()["type"] == "urn:tessera:problem:login-throttled"


class TestRS256:
    async def test_jwks_publishes_the_key_that_verifies_tokens(self, databases: DatabaseFactory) -> None:
        import jwt as pyjwt
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        from tessera_customer.settings import CustomerSettings
        from tessera_shared.app import token_codec

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        public = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        url = await databases.new("gateway", "sqlite", migrations_of(gateway_main.__file__))
        app = create_app(
            GatewaySettings(
                database_url=url,
                log_json=False,
                jwt_algorithm="RS256",
                jwt_private_key=private,
                jwt_public_key=public,
                jwt_key_id="k1",
            )
        )
        async with running(app) as client:
            access = (await password_tokens(client, "admin"))["access_token"]
            jwks = (await client.get("/.well-known/jwks.json")).json()
        assert pyjwt.get_unverified_header(access)["kid"] == "k1"
        (jwk,) = jwks["keys"]
        assert (jwk["kid"], jwk["alg"], jwk["kty"]) == ("k1", "RS256", "RSA")
        verifier = pyjwt.PyJWK(jwk)
        claims = pyjwt.decode(access, verifier.key, algorithms=["RS256"], audience="tessera")
        assert claims["sub"] == "admin"
        # A service holding only the public key verifies the same token.
        service = token_codec(CustomerSettings(jwt_algorithm="RS256", jwt_public_key=public))
        assert service.verify(access).roles == {"admin"}

    @pytest.mark.sqlite
    async def test_hs256_publishes_no_keys(self, gateway) -> None:
        _, client = gateway
        assert (await client.get("/.well-known/jwks.json")).json() == {"keys": []}


@pytest.mark.sqlite
async def test_logout_and_revoke_are_listed_in_the_feed_and_refused(gateway) -> None:
    """Logout (204), RFC 7009 revoke (200) and the revocations feed, on both databases."""
    app, client = gateway

    async def login() -> dict[str, str]:
        r = await client.post("/auth/token", data={"grant_type": "password", "username": "rep1", "password": "local"})
        assert r.status_code == 200, r.text
        body: dict[str, str] = r.json()
        return body

    first, second = await login(), await login()
    assert (
        await client.post("/auth/logout", headers={"Authorization": f"Bearer {first['access_token']}"})
    ).status_code == 204
    r = await client.post("/auth/revoke", data={"token": second["access_token"], "token_type_hint": "access_token"})
    assert r.status_code == 200
    feed = await client.get("/auth/revocations")
    assert feed.status_code == 200
    listed = {item["jti"] for item in feed.json()["items"]}
    for token in (first, second):
        assert app.state.token_codec.verify(token["access_token"]).jti in listed
    r = await client.get("/auth/revocations", params={"since": "2026-01-01T00:00:00"})
    assert (r.status_code, r.json()["errors"][0]["field"]) == (422, "since")
