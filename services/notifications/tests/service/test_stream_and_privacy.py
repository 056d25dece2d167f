"""The live stream resumes after Last-Event-ID without loss or duplicates; erasure and merges
reach the service's copies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from notifications_helpers import activity_due, deliver, large_deal, make_app, user
from sqlalchemy import select

from tessera_notifications.copies.models import DealCopy
from tessera_notifications.inbox.models import Notification
from tessera_shared.db import read_session
from tessera_shared.events.contracts import CustomerCreated, CustomerErased, CustomerMerged
from tessera_shared.testing.plugin import running


def events_of(text: str) -> list[tuple[str, str]]:
    found = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if fields.get("event") == "notification":
            found.append((fields["id"], fields["data"]))
    return found


@pytest.mark.sqlite
async def test_the_stream_resumes_after_the_last_event_id(databases, backend) -> None:
    app = await make_app(
        databases, backend, stream_max_seconds=0.6, stream_poll_seconds=0.05, stream_heartbeat_seconds=0.2
    )
    rep = user(app, "rep1", "sales_rep")
    async with running(app) as client:
        for i in range(3):
            await deliver(app, activity_due("rep1", f"s{i}"))
        await deliver(app, activity_due("rep2", "not mine"))
        answer = await client.get("/v1/notifications/stream", headers={**rep, "Last-Event-ID": "1"})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert answer.text.startswith("retry: 1000\n\n") and ": heartbeat" in answer.text
        got = events_of(answer.text)
        assert [i for i, _ in got] == ["2", "3"] and '"title":"Reminder: s1"' in got[0][1]

        # From the start, and without Last-Event-ID: only what comes from now on (none here).
        assert [
            i
            for i, _ in events_of(
                (await client.get("/v1/notifications/stream", headers={**rep, "Last-Event-ID": "0"})).text
            )
        ] == ["1", "2", "3"]
        assert events_of((await client.get("/v1/notifications/stream", headers=rep)).text) == []
        bad = await client.get("/v1/notifications/stream", headers={**rep, "Last-Event-ID": "x"})
        assert bad.status_code == 422


async def test_erasure_scrubs_and_a_merge_rekeys(databases, backend) -> None:
    app = await make_app(databases, backend)
    kept, merged, erased = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    async with running(app):
        for customer_id, name in ((kept, "Keeper AG"), (merged, "Merged AG"), (erased, "Jane Roe")):
            await deliver(
                app,
                CustomerCreated(
                    customer_id=customer_id,
                    kind="organization",
                    name=name,
                    owner_id="rep1",
                    status="active",
                    created_at=now,
                ),
            )
            await deliver(app, large_deal(customer_id))
        await deliver(app, CustomerMerged(survivor_id=kept, merged_id=merged, actor="admin", merged_at=now))
        await deliver(app, CustomerErased(customer_id=erased, requested_by="admin", erased_at=now))
        async with read_session(app.state.runtime.sessions) as session:
            rows = list((await session.execute(select(Notification))).scalars())
            deals = list((await session.execute(select(DealCopy))).scalars())
        assert not any("Jane Roe" in n.body for n in rows)
        assert sorted(str(n.customer_id) for n in rows) == sorted(map(str, (kept, kept, erased)))
        assert {d.customer_id for d in deals} == {kept, erased}
        assert [n.title for n in rows if n.customer_id == erased] == ["[erased]"]

        # Facts that arrive late: about the merged id (kept under the survivor), about the erased
        # customer (its texts may quote what was erased: none are kept).
        late_merged, late_erased = large_deal(merged), large_deal(erased)
        for data in (late_merged, late_erased):
            await deliver(app, data)
        async with read_session(app.state.runtime.sessions) as session:
            late = {
                n.link: n
                for n in (await session.execute(select(Notification))).scalars()
                if n.link in (f"/api/v1/deals/{late_merged.deal_id}", f"/api/v1/deals/{late_erased.deal_id}")
            }
    assert late[f"/api/v1/deals/{late_merged.deal_id}"].customer_id == kept
    assert "Keeper AG" in late[f"/api/v1/deals/{late_merged.deal_id}"].body
    erased_late = late[f"/api/v1/deals/{late_erased.deal_id}"]
    assert (erased_late.customer_id, erased_late.title, erased_late.body) == (erased, "[erased]", "[erased]")


async def test_an_erased_address_leaves_the_sqlite_files(databases) -> None:
    """make run's SQLite: after customer.erased no file of the database holds the address (the
    WAL kept the overwritten rows' earlier images until truncated; tessera_shared.db.shred)."""
    app = await make_app(databases, "sqlite")
    path = Path(app.state.runtime.settings.database_url.split("///", 1)[1])
    address, customer_id, now = f"jane.{uuid.uuid4().hex[:10]}@example.com", uuid.uuid4(), datetime.now(UTC)

    def files_holding_it() -> list[str]:
        return sorted(f.name for f in path.parent.glob(f"{path.name}*") if address.encode() in f.read_bytes())

    async with running(app):
        await deliver(
            app,
            CustomerCreated(
                customer_id=customer_id,
                kind="person",
                name="Jane Roe",
                email=address,
                owner_id="rep1",
                status="active",
                created_at=now,
            ),
        )
        assert files_holding_it() == [f"{path.name}-wal"]  # kept while the customer is known
        await deliver(app, CustomerErased(customer_id=customer_id, requested_by="admin", erased_at=now))
        assert files_holding_it() == []
