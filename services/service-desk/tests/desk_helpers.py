"""Builders and small helpers shared by the service-desk tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from tessera_shared.infra_tables import outbox
from tessera_shared.testing.plugin import bearer

PROBLEM = "application/problem+json"


def ticket_payload(**overrides: Any) -> dict[str, Any]:
    return {
        "customer_id": str(uuid.uuid4()),
        "subject": f"Printer on fire {uuid.uuid4().hex[:6]}",
        "priority": "normal",
        **overrides,
    }


def agent(app: FastAPI, name: str = "agent") -> dict[str, str]:
    return bearer(app, name, "support_agent")


def admin(app: FastAPI) -> dict[str, str]:
    return bearer(app, "admin", "admin")


def partner(app: FastAPI) -> dict[str, str]:
    return bearer(app, "partner", "partner", kind="client")


async def open_ticket(client: httpx.AsyncClient, app: FastAPI, **overrides: Any) -> dict[str, Any]:
    r = await client.post("/v1/tickets", json=ticket_payload(**overrides), headers=agent(app))
    assert r.status_code == 201, r.text
    return r.json()


async def patch(client: httpx.AsyncClient, app: FastAPI, ticket_id: str, **body: Any) -> httpx.Response:
    return await client.patch(f"/v1/tickets/{ticket_id}", json=body, headers=agent(app))


async def count(app: FastAPI, table: Any) -> int:
    async with app.state.runtime.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(table)))


async def events(app: FastAPI) -> list[str]:
    async with app.state.runtime.sessions() as s:
        return list((await s.execute(select(outbox.c.event_type).order_by(outbox.c.seq))).scalars())
