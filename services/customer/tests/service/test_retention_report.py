"""GET /v1/customers/reports/retention, and its arithmetic."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

from tessera_customer.customers.models import Customer
from tessera_customer.lifecycle.models import StatusChange
from tessera_customer.reports.rules import rate, retention_rate
from tessera_shared.testing.plugin import bearer

JAN, FEB, MAR = (datetime(2026, m, 1, tzinfo=UTC) for m in (1, 2, 3))
URL = "/v1/customers/reports/retention"


def test_retention_rate() -> None:
    assert retention_rate(active_at_start=10, active_at_end=12, acquired=4) == Decimal("80.00")
    assert retention_rate(0, 5, 5) is None
    assert rate(1, 3) == Decimal("33.33")


async def add_history(app: FastAPI, changes: list[tuple[str, str, datetime]], monetary: str = "100") -> uuid.UUID:
    async with app.state.runtime.sessions() as s, s.begin():
        customer = Customer(kind="person", name="History", status=changes[-1][1], monetary=Decimal(monetary))
        s.add(customer)
        await s.flush()
        for from_status, to_status, at in changes:
            s.add(
                StatusChange(
                    customer_id=customer.id, from_status=from_status, to_status=to_status, reason="test", changed_at=at
                )
            )
    return customer.id


class TestRetentionReport:
    @pytest.mark.sqlite
    async def test_counts_start_end_acquired_and_churned(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        early = datetime(2025, 12, 1, tzinfo=UTC)
        await add_history(
            app,
            [("prospect", "first_time", early), ("first_time", "repeat", datetime(2026, 1, 20, tzinfo=UTC))],
            monetary="300",
        )  # retained
        await add_history(
            app, [("prospect", "first_time", early), ("first_time", "churned", datetime(2026, 1, 10, tzinfo=UTC))]
        )
        await add_history(app, [("prospect", "first_time", datetime(2026, 1, 15, tzinfo=UTC))], monetary="100")  # new
        r = await client.get(
            URL, params={"from": JAN.isoformat(), "to": FEB.isoformat()}, headers=bearer(app, "m", "sales_manager")
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["active_at_start"], body["active_at_end"], body["acquired"], body["churned"]) == (2, 2, 1, 1)
        assert body["retention_rate_percent"] == "50.00"
        assert body["churn_rate_percent"] == "50.00"
        assert body["average_lifetime_value"] == "200.00"

    async def test_roles_and_bad_periods(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        params = {"from": FEB.isoformat(), "to": MAR.isoformat()}
        assert (await client.get(URL, params=params)).status_code == 401
        assert (await client.get(URL, params=params, headers=bearer(app, "r", "sales_rep"))).status_code == 403
        r = await client.get(
            URL, params={"since": MAR.isoformat(), "until": FEB.isoformat()}, headers=bearer(app, "a", "admin")
        )
        assert r.status_code == 422
        assert r.json()["errors"] == [
            {"field": "until", "location": "query", "message": "must be after since", "type": "value_error"}
        ]
        assert (r.json()["type"], r.json()["detail"]) == (
            "urn:tessera:problem:validation-error",
            "invalid input: until",
        )
        r = await client.get(
            URL, params={"from": "2026-02-01T00:00:00", "to": MAR.isoformat()}, headers=bearer(app, "a", "admin")
        )
        assert r.status_code == 422  # a time without a zone is ambiguous
