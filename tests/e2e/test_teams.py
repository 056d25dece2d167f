"""Teams end to end through the gateway with plain HTTP (issue 24, part 4): the `make run` launcher,
six processes, real Kafka. A manager puts rep1 and rep2 in a team led by lead1 (a rep); the lead
sees both reps' deals and leads and changes their customers, while each rep sees only their own."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from tessera_shared.testing.builders import customer_payload
from tests.e2e.test_skeleton import GATEWAY, stack, token  # noqa: F401 - the module's stack fixture

pytestmark = pytest.mark.e2e


def until(call: Any, ok: Any, within: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        r = call()
        if ok(r) or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


def ids(r: httpx.Response) -> set[str]:
    assert r.status_code == 200, r.text
    return {x["id"] for x in r.json()["items"]}


def test_a_team_lead_sees_the_members_records_each_rep_only_their_own(stack) -> None:  # noqa: F811
    with httpx.Client(timeout=10) as client:
        manager, lead = token(client, "manager"), token(client, "lead1")
        rep1, rep2 = token(client, "rep1"), token(client, "rep2")
        key = f"e2e-{uuid.uuid4().hex[:8]}"
        r = client.post(
            f"{GATEWAY}/api/v1/teams",
            json={"key": key, "name": "E2E team", "lead": "lead1", "members": ["rep1", "rep2"]},
            headers=manager,
        )
        assert r.status_code == 201, r.text
        assert r.json()["members"] == ["lead1", "rep1", "rep2"]
        assert client.post(f"{GATEWAY}/api/v1/teams", json={"key": "x", "name": "X"}, headers=rep1).status_code == 403

        deals, customers, leads = {}, {}, {}
        for rep, headers in (("rep1", rep1), ("rep2", rep2)):
            c = client.post(f"{GATEWAY}/api/v1/customers", json=customer_payload(kind="organization"), headers=headers)
            assert c.status_code == 201, c.text
            customers[rep] = c.json()["id"]
            body = {"customer_id": customers[rep], "title": f"Deal of {rep}", "amount": "1000.00", "currency": "EUR"}
            # Sales learns the customer (and billing's credit profile) from Kafka a moment later.
            d = until(
                lambda body=body, headers=headers: client.post(f"{GATEWAY}/api/v1/deals", json=body, headers=headers),
                lambda r: r.status_code == 201,
            )
            assert d.status_code == 201, d.text
            deals[rep] = d.json()["id"]
            lead_body = {"name": f"Lead of {rep}", "source": "web_form"}
            ld = client.post(f"{GATEWAY}/api/v1/leads", json=lead_body, headers=headers)
            assert ld.status_code == 201, ld.text
            leads[rep] = ld.json()["id"]

        everyone = {deals["rep1"], deals["rep2"]}
        assert ids(client.get(f"{GATEWAY}/api/v1/deals", params={"limit": 200}, headers=lead)) >= everyone
        assert deals["rep2"] not in ids(client.get(f"{GATEWAY}/api/v1/deals", params={"limit": 200}, headers=rep1))
        assert deals["rep1"] not in ids(client.get(f"{GATEWAY}/api/v1/deals", params={"limit": 200}, headers=rep2))
        assert client.get(f"{GATEWAY}/api/v1/deals/{deals['rep1']}", headers=lead).status_code == 200
        assert client.get(f"{GATEWAY}/api/v1/deals/{deals['rep1']}", headers=rep2).status_code == 404
        seen_leads = ids(client.get(f"{GATEWAY}/api/v1/leads", params={"limit": 200}, headers=lead))
        assert {leads["rep1"], leads["rep2"]} <= seen_leads
        assert leads["rep1"] not in ids(client.get(f"{GATEWAY}/api/v1/leads", params={"limit": 200}, headers=rep2))

        def rename(cid: str, headers: dict[str, str]) -> int:
            etag = client.get(f"{GATEWAY}/api/v1/customers/{cid}", headers=headers).headers["etag"]
            r = client.patch(
                f"{GATEWAY}/api/v1/customers/{cid}", json={"name": "Renamed"}, headers={**headers, "If-Match": etag}
            )
            return r.status_code

        assert rename(customers["rep1"], lead) == 200
        assert rename(customers["rep1"], rep2) == 403
