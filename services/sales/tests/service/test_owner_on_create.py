"""Creating a lead, deal or activity follows the owner rule of PATCH (issue 17, item 6): a rep's
new record is the rep's own; naming another owner (or one that does not exist) is a manager's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tessera_sales.testing import Api, deal_payload

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)

BODIES: dict[str, Any] = {
    "/v1/leads": lambda: {
        "name": "Grace Hopper",
        "company": "Navy Labs",
        "email": "grace@example.com",
        "source": "referral",
    },
    "/v1/deals": deal_payload,
    "/v1/activities": lambda: {
        "kind": "task",
        "subject": "Send the proposal",
        "customer_id": str(uuid.uuid4()),
        "due_at": (T0 + timedelta(days=1)).isoformat(),
        "remind_at": T0.isoformat(),
    },
}


@pytest.mark.parametrize("path", list(BODIES))
async def test_only_managers_name_another_owner(api: Api, path: str) -> None:
    for owner in ("rep2", "nobody-such"):
        r = await api.client.post(path, json={**BODIES[path](), "owner_id": owner}, headers=api.rep1)
        assert r.status_code == 403, (path, r.text)
    assert (await api.client.post(path, json=BODIES[path](), headers=api.rep1)).json()["owner_id"] == "rep1"
    r = await api.client.post(path, json={**BODIES[path](), "owner_id": "rep1"}, headers=api.rep1)
    assert r.json()["owner_id"] == "rep1"
    r = await api.client.post(path, json={**BODIES[path](), "owner_id": "rep2"}, headers=api.manager)
    assert (r.status_code, r.json()["owner_id"]) == (201, "rep2")
