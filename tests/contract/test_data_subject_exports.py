"""Sales, the service desk, billing and notifications answer the data-subject export (GET
/v1/data-subjects/{id}/export; the customer service has its own) on both databases: the
gateway's export joins them, and their SQL reads every table with a customer_id."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from service_apps import build_app, main_module

pytestmark = pytest.mark.sqlite


@pytest.mark.parametrize("service", ["sales", "service-desk", "billing", "notifications"])
async def test_an_export_answers_for_admins_and_services_only(
    databases: DatabaseFactory, backend: str, service: str
) -> None:
    url = await databases.new(service, backend, migrations_of(main_module(service).__file__))
    app = build_app(service, url)
    async with running(app) as client:
        path = f"/v1/data-subjects/{uuid.uuid4()}/export"
        r = await client.get(path, headers=bearer(app, "svc-gateway", "service", kind="client"))
        assert r.status_code == 200, r.text
        assert isinstance(r.json(), dict)
        assert (await client.get(path, headers=bearer(app, "admin", "admin"))).status_code == 200
        assert (await client.get(path, headers=bearer(app, "rep1", "sales_rep"))).status_code == 403
        assert (await client.get(path)).status_code == 401
