"""Bulk exports of customers and contacts (issue 23 item 5): POST /v1/exports -> 202 with the job,
its status and progress, the file streamed; formulas neutralised, owner scope, erasure, expiry,
a run taken over by another replica."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
import zlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

import tessera_customer.main as customer_main
from services.customer.tests.helpers import PROBLEM
from tessera_customer.customers.models import AccessLog
from tessera_customer.exports.models import EXPORTS
from tessera_customer.exports.sources import SOURCES
from tessera_customer.settings import CustomerSettings
from tessera_shared.db import unit_of_work, utcnow
from tessera_shared.exports import service as export_service
from tessera_shared.exports.service import RunFenced, _ChunkWriter, run_export, run_exports
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running

# The new endpoints' successes on SQLite too (dialect-neutral statements): the module runs on both.
pytestmark = pytest.mark.sqlite


@pytest.fixture
async def app(databases: DatabaseFactory, backend: str) -> FastAPI:
    url = await databases.new("customer", backend, migrations_of(customer_main.__file__))
    # The exports job is driven by the tests (run_exports), as an as_of endpoint would be.
    settings = CustomerSettings(database_url=url, kafka_enabled=False, log_json=False, jobs_enabled=False)
    return customer_main.create_app(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as c:
        yield c


def manager(app: FastAPI) -> dict[str, str]:
    return bearer(app, "boss", "sales_manager")


async def import_csv(client: httpx.AsyncClient, app: FastAPI, body: str) -> None:
    r = await client.post(
        "/v1/customers/import/csv", content=body.encode(), headers={**manager(app), "content-type": "text/csv"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["failed"] == 0, r.json()


async def run_round(app: FastAPI, **kw: object) -> int:
    settings: CustomerSettings = app.state.settings
    return await run_exports(
        app.state.runtime.sessions,
        EXPORTS,
        SOURCES,
        kw.get("now", utcnow()),  # type: ignore[arg-type]
        ttl_seconds=float(kw.get("ttl", settings.export_ttl_seconds)),  # type: ignore[arg-type]
        page_rows=int(kw.get("page_rows", settings.export_page_rows)),  # type: ignore[call-overload]
    )


async def export(client: httpx.AsyncClient, who: dict[str, str], **body: object) -> dict[str, object]:
    r = await client.post("/v1/exports", json={"resource": "customers", **body}, headers=who)
    assert r.status_code == 202, r.text
    job: dict[str, object] = r.json()
    assert r.headers["location"] == f"/v1/exports/{job['id']}"
    return job


async def file_of(client: httpx.AsyncClient, job_id: object, who: dict[str, str]) -> httpx.Response:
    r = await client.get(f"/v1/exports/{job_id}/file", headers=who)
    assert r.status_code == 200, r.text
    return r


class TestCsvExport:
    async def test_10k_customers_with_formulas_neutralised(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        rows = ["external_id,kind,name,email,tags,city"]
        rows += [f"x-{i},person,Person {i},p{i}@example.com,vip,Berlin" for i in range(9_997)]
        rows.append('x-evil-1,person,=1+1,evil@example.com,zz;=HYPERLINK("http://x"),Paris')
        rows.append("x-evil-2,organization,@SUM(A1),,,-2+3")
        rows.append('x-evil-3,person,"Two Cells,=cmd",,,Rome')
        await import_csv(client, app, "\n".join(rows) + "\n")

        job = await export(client, manager(app), format="csv")
        assert job["status"] == "queued" and job["rows_written"] == 0 and job["file_url"] is None
        r = await client.get(f"/v1/exports/{job['id']}/file", headers=manager(app))
        assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
        assert r.json()["type"].endswith("export-not-ready")

        assert await run_round(app, page_rows=1000) == 1
        status = (await client.get(f"/v1/exports/{job['id']}", headers=manager(app))).json()
        assert status["status"] == "succeeded", status
        assert (status["rows_written"], status["rows_total"], status["progress"]) == (10_000, 10_000, 1.0)
        assert status["expires_at"] is not None and status["file_url"] == f"/api/v1/exports/{job['id']}/file"

        r = await file_of(client, job["id"], manager(app))
        assert r.headers["content-type"].startswith("text/csv")
        assert int(r.headers["content-length"]) == len(r.content) == status["bytes_written"]
        table = list(csv.reader(io.StringIO(r.content.decode())))
        assert table[0][:6] == ["id", "external_id", "kind", "name", "email", "phone"]
        assert len(table) == 10_001
        assert len({row[0] for row in table[1:]}) == 10_000
        by_ext = {row[1]: dict(zip(table[0], row, strict=True)) for row in table[1:]}
        assert by_ext["x-evil-1"]["name"] == "'=1+1"
        assert by_ext["x-evil-1"]["tags"] == '\'=HYPERLINK("http://x");zz'
        assert by_ext["x-evil-2"]["name"] == "'@SUM(A1)"
        assert by_ext["x-evil-3"]["name"] == "Two Cells,'=cmd"
        assert by_ext["x-evil-2"]["city"] == "'-2+3"
        assert by_ext["x-5"]["email"] == "p5@example.com" and by_ext["x-5"]["tags"] == "vip"
        # Not one cell of the file starts a formula.
        assert not [c for row in table[1:] for c in row if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
        # The bulk read is in the privacy audit, one line per customer.
        async with app.state.runtime.sessions() as s:
            logged = await s.scalar(select(func.count()).where(AccessLog.__table__.c.action == "export_bulk"))
        assert logged == 10_000

    async def test_ndjson_with_chosen_fields(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        await import_csv(client, app, "external_id,kind,name,tags\nn-1,person,=Ada,a;b\nn-2,organization,Acme,\n")
        job = await export(client, manager(app), format="ndjson", fields=["external_id", "name", "tags", "monetary"])
        assert job["fields"] == ["external_id", "name", "tags", "monetary"]
        await run_round(app)
        r = await file_of(client, job["id"], manager(app))
        assert r.headers["content-type"] == "application/x-ndjson"
        lines = [orjson.loads(line) for line in r.content.splitlines()]
        # JSON is data, not a spreadsheet: values as the API shows them.
        assert sorted(lines, key=lambda x: x["external_id"]) == [
            {"external_id": "n-1", "name": "=Ada", "tags": ["a", "b"], "monetary": "0.00"},
            {"external_id": "n-2", "name": "Acme", "tags": [], "monetary": "0.00"},
        ]

    async def test_filter_groups_or_across_groups_and_within_the_owner_scope(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        await import_csv(
            client,
            app,
            "external_id,kind,name,country,owner_id\n"
            "f-1,person,A,DE,rep-1\nf-2,organization,B,DE,rep-1\nf-3,person,C,FR,rep-1\n"
            "f-4,organization,D,GB,rep-2\nf-5,person,E,GB,rep-1\n",
        )
        groups = [
            {"filters": [{"property": "country", "operator": "eq", "value": "DE"}]},
            {
                "filters": [
                    {"property": "kind", "operator": "eq", "value": "organization"},
                    {"property": "country", "operator": "in", "value": ["GB", "FR"]},
                ]
            },
        ]
        everyone = await export(client, manager(app), fields=["external_id"], filter_groups=groups)
        rep1 = bearer(app, "rep-1", "sales_rep")
        own = await export(client, rep1, fields=["external_id"], filter_groups=groups)
        await run_round(app)
        rows = list(csv.reader(io.StringIO((await file_of(client, everyone["id"], manager(app))).text)))
        assert sorted(r[0] for r in rows[1:]) == ["f-1", "f-2", "f-4"]
        status = (await client.get(f"/v1/exports/{everyone['id']}", headers=manager(app))).json()
        assert (status["rows_total"], status["rows_written"]) == (3, 3)
        rows = list(csv.reader(io.StringIO((await file_of(client, own["id"], rep1)).text)))
        assert sorted(r[0] for r in rows[1:]) == ["f-1", "f-2"]
        # A filter the search language refuses is a 422 naming it, when the export is asked.
        bad = [{"filters": [{"property": "country", "operator": "between", "value": "DE"}]}]
        r = await client.post("/v1/exports", json={"resource": "customers", "filter_groups": bad}, headers=manager(app))
        assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("filter_groups.0.filters.0")
        bad = [{"filters": [{"property": "colour", "operator": "eq", "value": "red"}]}]
        r = await client.post("/v1/exports", json={"resource": "customers", "filter_groups": bad}, headers=manager(app))
        assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("filter_groups.0.filters.0")

    async def test_a_retry_with_its_idempotency_key_is_the_first_job(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        body = {"resource": "customers", "format": "ndjson", "fields": ["external_id"]}
        headers = {**manager(app), "Idempotency-Key": "export-once"}
        first = await client.post("/v1/exports", json=body, headers=headers)
        again = await client.post("/v1/exports", json=body, headers=headers)
        assert (first.status_code, again.status_code) == (202, 202)
        assert again.json() == first.json()
        assert again.headers["location"] == first.headers["location"] == f"/v1/exports/{first.json()['id']}"
        assert again.headers["idempotent-replayed"] == "true"
        async with app.state.runtime.sessions() as s:
            assert [f"customers.{i}" for i in await s.scalars(select(EXPORTS.jobs.c.id))] == [first.json()["id"]]
        other = await client.post("/v1/exports", json={**body, "format": "csv"}, headers=headers)
        assert other.status_code == 422 and other.json()["type"].endswith("idempotency-key-reused")

    async def test_unknown_field_resource_or_filters_are_422(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        r = await client.post(
            "/v1/exports", json={"resource": "customers", "fields": ["name", "colour"]}, headers=manager(app)
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "fields.1"
        r = await client.post("/v1/exports", json={"resource": "deals"}, headers=manager(app))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "resource"
        r = await client.post("/v1/exports", json={"resource": "customers", "colour": "red"}, headers=manager(app))
        assert r.status_code == 422
        r = await client.post("/v1/exports", json={"resource": "customers"}, headers=bearer(app, "x", "viewer"))
        assert r.status_code == 403


class TestWhoSeesWhat:
    async def test_rep_exports_own_customers_only_and_sees_only_own_jobs(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        await import_csv(
            client,
            app,
            "external_id,kind,name,email,owner_id\n"
            "o-1,person,Mine One,one@example.com,rep-1\n"
            "o-2,person,Mine Two,two@example.com,rep-1\n"
            "o-3,person,Theirs,three@example.com,rep-2\n"
            "o-4,person,Nobody's,,\n",
        )
        rep1, rep2 = bearer(app, "rep-1", "sales_rep"), bearer(app, "rep-2", "sales_rep")
        job = await export(client, rep1, fields=["external_id", "email", "owner_id"])
        everyone = await export(client, bearer(app, "agent", "support_agent"), fields=["external_id"])
        await run_round(app)
        table = list(csv.reader(io.StringIO((await file_of(client, job["id"], rep1)).content.decode())))
        assert sorted(table[1:]) == [["o-1", "one@example.com", "rep-1"], ["o-2", "two@example.com", "rep-1"]]
        agent = bearer(app, "agent", "support_agent")
        assert len((await file_of(client, everyone["id"], agent)).content.splitlines()) == 5
        # Another caller's export is not there for them (an admin may see it).
        assert (await client.get(f"/v1/exports/{job['id']}", headers=rep2)).status_code == 404
        assert (await client.get(f"/v1/exports/{job['id']}/file", headers=rep2)).status_code == 404
        admin = bearer(app, "root", "admin")
        assert (await client.get(f"/v1/exports/{job['id']}", headers=admin)).status_code == 200

    async def test_erased_customer_is_exported_without_personal_fields(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        await import_csv(
            client, app, "external_id,kind,name,email,phone\ne-1,person,Eve Gone,eve@example.com,+49 30 1234567\n"
        )
        listed = (await client.get("/v1/customers", headers=manager(app))).json()["items"]
        admin = bearer(app, "root", "admin")
        r = await client.post(f"/v1/customers/{listed[0]['id']}/erase", json={"reason": "asked"}, headers=admin)
        assert r.status_code == 200, r.text
        shown = (await client.get(f"/v1/customers/{listed[0]['id']}", headers=admin)).json()
        job = await export(client, admin, format="ndjson", fields=["id", "name", "email", "phone", "erased_at"])
        await run_round(app)
        [line] = (await file_of(client, job["id"], admin)).content.splitlines()
        row = orjson.loads(line)
        assert row["email"] is None and row["phone"] is None and row["erased_at"] is not None
        assert (row["name"], row["email"], row["phone"]) == (shown["name"], shown["email"], shown["phone"])
        assert "Eve" not in line.decode()


class TestLifecycle:
    async def test_file_expires_and_is_deleted(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        await import_csv(client, app, "external_id,kind,name\nt-1,person,Ttl\n")
        job = await export(client, manager(app))
        await run_round(app, ttl=60)
        status = (await client.get(f"/v1/exports/{job['id']}", headers=manager(app))).json()
        assert status["status"] == "succeeded"
        # A round before the expiry keeps it; one after deletes the file and says so.
        await run_round(app, now=utcnow() + timedelta(seconds=30))
        await file_of(client, job["id"], manager(app))
        await run_round(app, now=utcnow() + timedelta(seconds=61))
        status = (await client.get(f"/v1/exports/{job['id']}", headers=manager(app))).json()
        assert status["status"] == "expired" and status["file_url"] is None
        r = await client.get(f"/v1/exports/{job['id']}/file", headers=manager(app))
        assert r.status_code == 409 and r.json()["type"].endswith("export-expired")
        async with app.state.runtime.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(EXPORTS.chunks)) == 0

    async def test_progress_while_running_and_a_stalled_run_is_fenced(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        body = "external_id,kind,name\n" + "".join(f"p-{i},person,P {i}\n" for i in range(30))
        await import_csv(client, app, body)
        job = await export(client, manager(app))
        job_id = uuid.UUID(str(job["id"]).split(".", 1)[1])
        sessions = app.state.runtime.sessions
        # A replica took the job (attempt 1), wrote part of it and stalled.
        async with unit_of_work(sessions) as s:
            await s.execute(
                update(EXPORTS.jobs)
                .where(EXPORTS.jobs.c.id == job_id)
                .values(status="running", attempt=1, rows_total=30, rows_written=10)
            )
            await s.execute(EXPORTS.chunks.insert().values(job_id=job_id, seq=0, data=zlib.compress(b"stale")))
        status = (await client.get(f"/v1/exports/{job['id']}", headers=manager(app))).json()
        assert (status["status"], status["progress"]) == ("running", 0.3333)
        # The replica now holding the exports job's lease runs it again from the start.
        assert await run_round(app, page_rows=7) == 1
        r = await file_of(client, job["id"], manager(app))
        assert b"stale" not in r.content and len(r.content.splitlines()) == 31
        # The stalled run wakes up: its write names attempt 1 and changes nothing.
        async with sessions() as s:
            row = dict((await s.execute(select(EXPORTS.jobs).where(EXPORTS.jobs.c.id == job_id))).mappings().one())
        stale = _ChunkWriter(sessions, EXPORTS, SOURCES["customers"], {**row, "attempt": 1, "status": "running"})
        with pytest.raises(RunFenced):
            await stale.write(b"late", last=True, ttl_seconds=1)
        assert (await file_of(client, job["id"], manager(app))).content == r.content
        # A finished job is not run again.
        await run_export(sessions, EXPORTS, SOURCES, job_id, ttl_seconds=60, page_rows=7)
        assert (await file_of(client, job["id"], manager(app))).content == r.content

    async def test_a_run_taken_over_midway_stops_at_its_next_chunk(
        self, app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The writer writes chunks while the next ones are encoded: once another run took the
        job, the writer's refused write stops the whole run (no hang on the chunks queued)."""
        await import_csv(client, app, "external_id,kind,name\n" + "".join(f"t-{i},person,T {i}\n" for i in range(40)))
        job = await export(client, manager(app))
        job_id = uuid.UUID(str(job["id"]).split(".", 1)[1])
        monkeypatch.setattr(export_service, "CHUNK_BYTES", 64)  # a chunk a page
        written: list[int] = []
        write = _ChunkWriter.write

        async def then_taken_over(self: _ChunkWriter, data: bytes, **kw: Any) -> None:
            await write(self, data, **kw)
            written.append(len(kw.get("ids", ())))
            if len(written) == 2:  # another replica takes the job over after two chunks
                async with unit_of_work(self.sessions) as s:
                    await s.execute(update(EXPORTS.jobs).where(EXPORTS.jobs.c.id == job_id).values(attempt=7))

        monkeypatch.setattr(_ChunkWriter, "write", then_taken_over)
        sessions = app.state.runtime.sessions
        await asyncio.wait_for(run_export(sessions, EXPORTS, SOURCES, job_id, ttl_seconds=60, page_rows=5), 30)
        async with app.state.runtime.sessions() as s:
            row = (await s.execute(select(EXPORTS.jobs).where(EXPORTS.jobs.c.id == job_id))).mappings().one()
            chunks = await s.scalar(select(func.count()).where(EXPORTS.chunks.c.job_id == job_id))
        assert written == [5, 5] and (row["status"], row["attempt"], row["rows_written"], chunks) == (
            "running",
            7,
            10,
            2,
        )


class TestContacts:
    async def test_contacts_of_a_reps_customers(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        await import_csv(
            client, app, "external_id,kind,name,owner_id\nc-1,organization,Mine,rep-1\nc-2,organization,Theirs,rep-2\n"
        )
        items = (await client.get("/v1/customers", headers=manager(app))).json()["items"]
        for item in items:
            r = await client.post(
                f"/v1/customers/{item['id']}/contacts",
                json={"name": f"+Contact of {item['name']}", "email": "c@example.com"},
                headers=manager(app),
            )
            assert r.status_code == 201, r.text
        rep1 = bearer(app, "rep-1", "sales_rep")
        r = await client.post("/v1/exports", json={"resource": "contacts", "fields": ["name", "email"]}, headers=rep1)
        assert r.status_code == 202, r.text
        await run_round(app)
        table = list(csv.reader(io.StringIO((await file_of(client, r.json()["id"], rep1)).content.decode())))
        assert table == [["name", "email"], ["'+Contact of Mine", "c@example.com"]]


async def test_a_queued_export_runs_at_once_and_once_across_two_replicas(
    databases: DatabaseFactory, backend: str
) -> None:
    """The request that queues an export rings the exports job once it commits: the export runs
    within seconds though the job's own interval is an hour (its first round falls anywhere in
    that hour), on whichever replica took it."""
    if backend == "sqlite":
        pytest.skip("two replicas share a PostgreSQL database")
    url = await databases.new("customer", backend, migrations_of(customer_main.__file__))
    settings = CustomerSettings(database_url=url, kafka_enabled=False, log_json=False, export_job_interval_seconds=3600)
    one, two = customer_main.create_app(settings), customer_main.create_app(settings)
    async with running(one) as c1, running(two) as c2:
        await import_csv(c1, one, "external_id,kind,name\nr-1,person,Replica\n")
        jobs = [await export(c, manager(one)) for c in (c1, c2, c1)]
        for _ in range(50):
            states = [(await c2.get(f"/v1/exports/{j['id']}", headers=manager(one))).json() for j in jobs]
            if all(s["status"] == "succeeded" for s in states):
                break
            await asyncio.sleep(0.1)
        assert [s["status"] for s in states] == ["succeeded"] * 3
        async with one.state.runtime.sessions() as s:
            attempts = (await s.scalars(select(EXPORTS.jobs.c.attempt))).all()
        assert attempts == [1, 1, 1]
        # Either replica serves a file written by either.
        for j in jobs:
            assert (await file_of(c1, j["id"], manager(one))).content == (
                await file_of(c2, j["id"], manager(one))
            ).content
