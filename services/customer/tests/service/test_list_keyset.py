"""List pages that stay index range reads: filters by id, a name search by (name_key, id)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.customer.tests.helpers import create
from tessera_shared.testing.plugin import bearer

NAMES = ("Jones B", "jonas a", "Jon", "Jones A", "Smith", "Jonathan", "Jones A")


async def walk(client: httpx.AsyncClient, app: FastAPI, **params: str) -> list[dict]:
    """Every item, page by page (2 a page), following next_cursor."""
    h = bearer(app, "m", "sales_manager")
    items, cursor = [], None
    while True:
        page = (
            await client.get(
                "/v1/customers", params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})}, headers=h
            )
        ).json()
        items += page["items"]
        if not (cursor := page["next_cursor"]):
            return items


async def test_search_pages_by_name_key_then_id(app: FastAPI, client: httpx.AsyncClient) -> None:
    made = [await create(client, app, name=n) for n in NAMES]
    found = await walk(client, app, q="jon")
    expected = sorted(
        (c for c in made if c["name"].lower().startswith("jon")), key=lambda c: (c["name"].lower(), c["id"])
    )
    assert [c["id"] for c in found] == [c["id"] for c in expected]
    assert [c["name"] for c in found] == ["Jon", "jonas a", "Jonathan", "Jones A", "Jones A", "Jones B"]


async def test_filtered_pages_by_id(app: FastAPI, client: httpx.AsyncClient) -> None:
    made = [
        await create(client, app, name=f"C{i}", segmentation={"geographic": {"country": "SE" if i % 2 else "DE"}})
        for i in range(7)
    ]
    found = await walk(client, app, country="SE", status="prospect")
    assert [c["id"] for c in found] == sorted(c["id"] for c in made if c["name"] in ("C1", "C3", "C5"))
