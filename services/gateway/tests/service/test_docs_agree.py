"""What docs/api.md and README.md say about the API is what the API does."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

import tessera_gateway.main as gateway_main
from tessera_gateway.main import create_app
from tessera_gateway.settings import GatewaySettings
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import migrations_of, running

ROOT = Path(__file__).resolve().parents[4]
API = (ROOT / "docs/api.md").read_text()


@pytest.fixture
async def gateway(databases: DatabaseFactory, backend: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    url = await databases.new("gateway", backend, migrations_of(gateway_main.__file__))
    app = create_app(GatewaySettings(database_url=url, log_json=False))
    async with running(app) as client:
        yield app, client


def token_examples() -> list[dict]:
    """Every JSON object in the docs that shows a token answer."""
    found = [
        json.loads(block) for block in re.findall(r"```json\n(\{.*?\})\n```", API, re.S) if '"access_token"' in block
    ]
    readme = (ROOT / "README.md").read_text()
    found += [json.loads(m.replace("\n", " ")) for m in re.findall(r"`(\{\"access_token\".*?\})`", readme, re.S)]
    return found


async def test_the_token_examples_show_the_real_answer(gateway) -> None:
    _, client = gateway
    r = await client.post("/auth/token", data={"grant_type": "password", "username": "admin", "password": "local"})
    assert r.status_code == 200
    real = r.json()
    examples = token_examples()
    assert len(examples) >= 2  # docs/api.md and README.md
    for example in examples:
        assert set(example) == set(real), example
        assert example["token_type"] == real["token_type"] and example["expires_in"] == real["expires_in"]


def test_the_api_doc_states_the_rules_the_services_enforce() -> None:
    # services/customer/tests/service/test_contacts_api.py proves the 409; the API doc must say it.
    assert re.search(r"Contacts belong to organisations.*409", API, re.S)
    assert "ids are UUIDs (time-ordered v7, invoices included)" in API  # billing/tests/service/test_money_inputs.py
    assert "JSON number is refused" in API  # the decimal strings of every request
