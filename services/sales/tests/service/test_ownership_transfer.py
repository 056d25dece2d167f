"""Sales' share of a bulk ownership transfer (tessera_shared.ownership): open leads, deals and
activities of the leaving rep move with their events; closed ones stay; the job is fenced."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_sales.deals.models import Deal
from tessera_sales.testing import Api
from tessera_sales.transfers import TRANSFERS
from tessera_shared.db import unit_of_work
from tessera_shared.ownership.service import Transfers, run_transfer, run_transfers


async def transfer(api: Api, **body: object) -> dict[str, object]:
    r = await api.client.post("/v1/ownership/transfers", json=body, headers=api.manager)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/ownership/transfers/{r.json()['id']}"
    return dict(r.json())


@pytest.mark.sqlite
async def test_open_records_move_with_their_events_and_closed_ones_stay(api: Api) -> None:
    open_deals = [await api.deal(title=f"Open {i}") for i in range(3)]
    won = await api.deal(title="Won")
    r = await api.client.post(f"/v1/deals/{won['id']}/lose", json={"reason": "late"}, headers=api.rep1)
    assert r.status_code == 200, r.text
    theirs = await api.deal(headers=api.rep2, title="Rep two's")
    lead = await api.client.post(
        "/v1/leads", json={"name": "Lead", "company": "Acme", "source": "web_form"}, headers=api.rep1
    )
    assert lead.status_code == 201, lead.text
    activity = await api.client.post(
        "/v1/activities", json={"kind": "call", "subject": "Call", "customer_id": str(uuid.uuid4())}, headers=api.rep1
    )
    assert activity.status_code == 201, activity.text

    job = await transfer(api, from_user="rep1", to_user="rep2")
    assert (job["status"], job["resources"], job["only_open"]) == ("queued", ["leads", "deals", "activities"], True)
    assert await run_transfers(api.app.state.runtime.sessions, TRANSFERS, batch_rows=2) == 1

    r = await api.client.get(f"/v1/ownership/transfers/{job['id']}", headers=api.manager)
    done = r.json()
    assert done["status"] == "succeeded" and done["finished_at"] is not None
    assert done["counts"] == {"leads": 1, "deals": 3, "activities": 1}
    owners = {d["id"]: d["owner_id"] for d in (await api.client.get("/v1/deals", headers=api.manager)).json()["items"]}
    assert {owners[d["id"]] for d in open_deals} == {"rep2"}
    assert owners[won["id"]] == "rep1"  # closed: stays
    assert owners[theirs["id"]] == "rep2"
    moved = [e for e in await api.events("deal.updated") if e["data"]["changes"] == {"owner_id": "rep2"}]
    assert sorted(e["data"]["deal_id"] for e in moved) == sorted(d["id"] for d in open_deals)
    assert {(e["data"]["version"], e["data"]["updated_by"]) for e in moved} == {(2, "manager")}
    assert [e["data"]["changes"] for e in await api.events("lead.updated")] == [{"owner_id": "rep2"}]
    assert [e["data"]["owner_id"] for e in await api.events("activity.updated")] == ["rep2"]
    (announced,) = await api.events("ownership.sales_transferred")
    assert announced["data"]["counts"] == {"leads": 1, "deals": 3, "activities": 1}
    assert announced["key"] == job["id"]
    listed = (await api.client.get("/v1/ownership/transfers?from_user=rep1", headers=api.manager)).json()
    assert [j["id"] for j in listed] == [job["id"]]


@pytest.mark.sqlite
async def test_refusals(api: Api) -> None:
    r = await api.client.post(
        "/v1/ownership/transfers", json={"from_user": "rep1", "to_user": "rep2"}, headers=api.rep1
    )
    assert r.status_code == 403
    r = await api.client.post(
        "/v1/ownership/transfers", json={"from_user": "rep1", "to_user": "rep1"}, headers=api.manager
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to_user"
    r = await api.client.post(
        "/v1/ownership/transfers",
        json={"from_user": "rep1", "to_user": "rep2", "resources": ["tickets"]},
        headers=api.manager,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "resources"
    r = await api.client.get(f"/v1/ownership/transfers/{uuid.uuid4()}", headers=api.manager)
    assert r.status_code == 404


async def test_a_replaced_run_writes_nothing_and_the_next_run_finishes(api: Api, backend: str) -> None:
    """A run whose job another replica took over (a later attempt) has its batch refused and rolled
    back; the abandoned job then runs again and moves every record once (PostgreSQL: the takeover
    commits while the stalled batch's transaction is open)."""
    if backend == "sqlite":
        pytest.skip("one writer at a time: the takeover cannot commit inside the stalled batch")
    deals = [await api.deal(title=f"D{i}") for i in range(3)]
    ids = [uuid.UUID(str(d["id"])) for d in deals]
    job = await transfer(api, from_user="rep1", to_user="rep2", resources=["deals"])
    job_id = uuid.UUID(str(job["id"]))
    sessions = api.app.state.runtime.sessions
    table = TRANSFERS.table

    async def taken_over(session: AsyncSession, rows: object, moved: object) -> None:
        async with unit_of_work(sessions) as other:  # another replica claims the job meanwhile
            await other.execute(update(table).where(table.c.id == job_id).values(attempt=table.c.attempt + 1))

    source = replace(TRANSFERS.by_name["deals"], after=taken_over)
    stalled = Transfers(TRANSFERS.table, [source], TRANSFERS.announce)
    await run_transfer(sessions, stalled, job_id, batch_rows=2)
    async with sessions() as s:
        row = (await s.execute(select(table).where(table.c.id == job_id))).mappings().one()
        owners = set((await s.scalars(select(col(Deal.owner_id)).where(col(Deal.id).in_(ids)))).all())
    assert (row["status"], row["attempt"], row["counts"]) == ("running", 2, {"deals": 0})
    assert owners == {"rep1"}  # the stalled batch was rolled back
    assert await api.events("deal.updated") == []

    assert await run_transfers(sessions, TRANSFERS) == 1  # the abandoned running job, attempt 3
    async with sessions() as s:
        row = (await s.execute(select(table).where(table.c.id == job_id))).mappings().one()
        owners = set((await s.scalars(select(col(Deal.owner_id)).where(col(Deal.id).in_(ids)))).all())
    assert (row["status"], row["attempt"], row["counts"]) == ("succeeded", 3, {"deals": 3})
    assert owners == {"rep2"} and len(await api.events("deal.updated")) == 3
