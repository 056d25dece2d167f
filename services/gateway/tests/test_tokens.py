"""POST /auth/token: OAuth2 password grant and client credentials with the local accounts."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tessera_gateway.main import create_app
from tessera_gateway.settings import GatewaySettings
from tessera_shared.testing.plugin import running


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(GatewaySettings(log_json=False))
    async with running(app) as client:
        yield app, client


@pytest.mark.parametrize(("user", "role"), [
    ("admin", "admin"), ("manager", "sales_manager"), ("rep1", "sales_rep"), ("rep2", "sales_rep"),
    ("agent", "support_agent"), ("clerk", "billing_clerk"), ("finance", "finance_manager"),
])
async def test_password_grant_for_local_users(gateway, user: str, role: str) -> None:  # noqa: ANN001
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


async def test_wrong_password_is_invalid_grant(gateway) -> None:  # noqa: ANN001
    _, client = gateway
    r = await client.post("/auth/token", data={"grant_type": "password", "username": "admin", "password": "nope"})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["error"] == "invalid_grant"


async def test_unknown_user_is_invalid_grant(gateway) -> None:  # noqa: ANN001
    _, client = gateway
    r = await client.post("/auth/token", data={"grant_type": "password", "username": "mallory", "password": "local"})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


async def test_client_credentials_with_basic_auth(gateway) -> None:  # noqa: ANN001
    app, client = gateway
    basic = base64.b64encode(b"partner:local").decode()
    r = await client.post("/auth/token", data={"grant_type": "client_credentials"},
                          headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 200, r.text
    principal = app.state.token_codec.verify(r.json()["access_token"])
    assert (principal.subject, principal.kind, principal.roles) == ("partner", "client", {"partner"})


async def test_client_credentials_in_form(gateway) -> None:  # noqa: ANN001
    _, client = gateway
    r = await client.post("/auth/token", data={"grant_type": "client_credentials", "client_id": "partner",
                                               "client_secret": "local"})
    assert r.status_code == 200


async def test_a_user_is_not_a_client(gateway) -> None:  # noqa: ANN001
    _, client = gateway
    r = await client.post("/auth/token", data={"grant_type": "client_credentials", "client_id": "admin",
                                               "client_secret": "local"})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


async def test_unsupported_grant(gateway) -> None:  # noqa: ANN001
    _, client = gateway
    r = await client.post("/auth/token", data={"grant_type": "implicit"})
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"


async def test_missing_grant_type_names_the_field(gateway) -> None:  # noqa: ANN001
    _, client = gateway
    r = await client.post("/auth/token", data={"username": "admin"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "grant_type"


def test_no_local_accounts_outside_local_mode() -> None:
    from tessera_gateway.auth.accounts import AccountDirectory

    directory = AccountDirectory.from_settings("[]", local=False)
    assert directory.authenticate("admin", "local", "user") is None
