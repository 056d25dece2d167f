"""POST /v1/customers/import/csv and /import/ndjson (and the deprecated /import, either format by
Content-Type): row-by-row validation, idempotent on external_id."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from fastapi import FastAPI

import tessera_customer.main as customer_main
from services.customer.tests.helpers import PROBLEM, count, events
from tessera_customer.customers.models import Customer, CustomerTag
from tessera_customer.settings import CustomerSettings
from tessera_customer.timeline.models import TimelineEntry
from tessera_shared.testing.databases import DatabaseFactory
from tessera_shared.testing.plugin import bearer, migrations_of, running

# Dialect branches (SQL that differs on SQLite): the whole module runs on both databases.
pytestmark = pytest.mark.sqlite

URL = "/v1/customers/import/csv"
NDJSON_URL = "/v1/customers/import/ndjson"
DEPRECATED_URL = "/v1/customers/import"

GOOD_AND_BAD_CSV = (
    "external_id,kind,name,email,phone,tags,country,city,age_band,attr.segment\n"
    "crm-1,person,Ada Lovelace,ADA@example.com,+44 20 7946 0001,vip;newsletter,GB,London,30-39,b2c\n"
    "crm-2,robot,Bad Kind,bad@example.com,,,,,,\n"  # line 3: kind
    'crm-3,organization,"Acme, Inc.",info@acme.io,,,DE,Berlin,,b2b\n'
    "crm-4,person,No Mail,not-an-email,,,de,,,\n"  # line 5: email and country
    ",person,No External Id,,,,,,,\n"  # line 6: external_id
    "crm-1,person,Ada Again,,,,,,,\n"  # line 7: repeated external id
    "crm-5,person,Short,,,\n"  # line 8: wrong cell count
)


def manager(app: FastAPI) -> dict[str, str]:
    return bearer(app, "boss", "sales_manager")


async def post(
    client: httpx.AsyncClient,
    app: FastAPI,
    body: str,
    content_type: str = "text/csv",
    who: dict[str, str] | None = None,
    url: str | None = None,
) -> httpx.Response:
    url = url or (URL if content_type == "text/csv" else NDJSON_URL)
    return await client.post(
        url, content=body.encode(), headers={**(who or manager(app)), "content-type": content_type}
    )


class TestImportCsv:
    async def test_stores_good_rows_reports_bad_ones_by_line_and_column(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        r = await post(client, app, GOOD_AND_BAD_CSV)
        assert r.status_code == 200, r.text
        report = r.json()
        assert (report["received"], report["created"], report["existing"], report["failed"]) == (7, 2, 0, 5)
        assert sorted((e["line"], e["field"]) for e in report["errors"]) == [
            (3, "kind"),
            (5, "country"),
            (5, "email"),
            (6, "external_id"),
            (7, "external_id"),
            (8, "row"),
        ]
        listed = (await client.get("/v1/customers", params={"tag": "vip"}, headers=manager(app))).json()["items"]
        assert len(listed) == 1
        ada = listed[0]
        assert (ada["external_id"], ada["email"], ada["phone"], ada["tags"]) == (
            "crm-1",
            "ada@example.com",
            "+442079460001",
            ["newsletter", "vip"],
        )
        assert ada["segmentation"]["geographic"]["city"] == "London"
        assert ada["custom_attributes"] == {"segment": "b2c"}
        created = await events(app, "customer.created")
        assert sorted(e["data"]["name"] for e in created) == ["Acme, Inc.", "Ada Lovelace"]
        assert {e["subject"] for e in created} == {e["data"]["customer_id"] for e in created}
        assert await count(app, TimelineEntry, TimelineEntry.kind == "customer.created") == 2

    async def test_reimport_creates_nothing_new(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        await post(client, app, GOOD_AND_BAD_CSV)
        r = await post(client, app, GOOD_AND_BAD_CSV)
        assert (r.json()["created"], r.json()["existing"], r.json()["failed"]) == (0, 2, 5)
        assert await count(app, Customer) == 2
        assert len(await events(app, "customer.created")) == 2
        assert await count(app, CustomerTag) == 2

    async def test_whole_file_problems_store_nothing(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        r = await post(client, app, "external_id,kind,name,colour\ncrm-1,person,Ada,red\n")
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
        assert r.json()["errors"][0]["field"] == "colour"
        assert (r.json()["type"], r.json()["detail"]) == (
            "urn:tessera:problem:validation-error",
            "invalid input: colour",
        )
        r = await post(client, app, "external_id,name\ncrm-1,Ada\n")
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind"
        assert (await post(client, app, "  \n")).status_code == 422
        r = await client.post(URL, content=b"\xff\xfe", headers={**manager(app), "content-type": "text/csv"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
        assert "not UTF-8" in r.json()["errors"][0]["message"] and r.json()["errors"][0]["location"] == "body"
        assert await count(app, Customer) == 0

    async def test_auth_and_media_type(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        body = "external_id,kind,name\ncrm-1,person,Ada\n"
        assert (await client.post(URL, content=body, headers={"content-type": "text/csv"})).status_code == 401
        r = await post(client, app, body, who=bearer(app, "rep1", "sales_rep"))
        assert r.status_code == 403
        for url in (URL, NDJSON_URL, DEPRECATED_URL):
            r = await post(client, app, body, content_type="application/xml", url=url)
            assert r.status_code == 415 and r.headers["content-type"] == PROBLEM
        # Each format's path takes its own type only.
        r = await post(client, app, body, content_type="application/x-ndjson", url=URL)
        assert r.status_code == 415 and "send text/csv" in r.json()["detail"]
        r = await post(client, app, '{"external_id": "j-1", "kind": "person", "name": "J"}\n', url=NDJSON_URL)
        assert r.status_code == 415 and "send application/x-ndjson" in r.json()["detail"]
        assert await count(app, Customer) == 0


class TestDeprecatedPath:
    async def test_takes_either_format_by_content_type(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        csv = await post(client, app, "external_id,kind,name\nd-1,person,Ada\n", url=DEPRECATED_URL)
        assert csv.status_code == 200, csv.text
        assert csv.json()["created"] == 1
        lines = '{"external_id": "d-2", "kind": "person", "name": "Bea"}\n'
        ndjson = await post(client, app, lines, content_type="application/x-ndjson", url=DEPRECATED_URL)
        assert ndjson.status_code == 200, ndjson.text
        assert ndjson.json()["created"] == 1
        assert await count(app, Customer) == 2
        # Announced on every answer (docs/api.md, "Versions and deprecation"); the new paths are not.
        for r in (csv, ndjson):
            assert r.headers["deprecation"] == "@1796426482"  # 2026-12-04T23:21:22Z
            assert r.headers["sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"
        current = await post(client, app, "external_id,kind,name\nd-3,person,Cy\n", url=URL)
        assert current.status_code == 200 and "deprecation" not in current.headers

    async def test_documented_as_deprecated_with_one_body_type_per_operation(self, app: FastAPI) -> None:
        paths = app.openapi()["paths"]
        bodies = {url: paths[url]["post"]["requestBody"]["content"] for url in (URL, NDJSON_URL, DEPRECATED_URL)}
        assert {url: list(content) for url, content in bodies.items()} == {
            URL: ["text/csv"],
            NDJSON_URL: ["application/x-ndjson"],
            DEPRECATED_URL: ["text/csv"],
        }
        assert paths[DEPRECATED_URL]["post"]["deprecated"] is True
        assert "deprecated" not in paths[URL]["post"] and "deprecated" not in paths[NDJSON_URL]["post"]


class TestImportNdjson:
    async def test_json_lines_with_nested_fields_and_errors(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        lines = [
            {
                "external_id": "j-1",
                "kind": "organization",
                "name": "Globex",
                "channels": [{"kind": "postal", "value": "1 Main St"}],
                "segmentation": {"geographic": {"country": "US"}},
            },
            {"external_id": "j-2", "kind": "person", "name": "X", "segmentation": {"demographic": {"age_band": "old"}}},
        ]
        body = "\n".join(orjson.dumps(x).decode() for x in lines) + "\n\n[1, 2]\n{not json\n"
        r = await post(client, app, body, content_type="application/x-ndjson")
        assert r.status_code == 200, r.text
        report = r.json()
        assert (report["created"], report["failed"]) == (1, 3)
        assert [(e["line"], e["field"]) for e in report["errors"]] == [
            (2, "segmentation.demographic.age_band"),
            (4, "row"),
            (5, "row"),
        ]
        globex = (await client.get("/v1/customers", params={"q": "globex"}, headers=manager(app))).json()["items"][0]
        assert globex["channels"] == [{"kind": "postal", "value": "1 Main St", "label": None}]


class TestImportCustomFields:
    """Typed custom fields in both formats, validated per row as a single create validates them:
    a bad value refuses that row only, naming custom_fields.<key> (issue 24)."""

    async def define(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        admin = bearer(app, "root", "admin")
        for key, kind, extra in (
            ("seats", "number", {}),
            ("signed", "boolean", {}),
            ("budget", "money", {}),
            (
                "regions",
                "multi_enum",
                {"options": [{"value": "emea", "label": "EMEA"}, {"value": "apac", "label": "A"}]},
            ),
            ("code", "text", {"unique": True}),
        ):
            body = {"entity": "customer", "key": key, "label": key.title(), "type": kind, **extra}
            r = await client.post("/v1/custom-fields", json=body, headers=admin)
            assert r.status_code == 201, r.text

    async def test_json_lines_and_csv_cells_validated_per_row(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        await self.define(app, client)
        good = {"seats": 12, "signed": True, "budget": {"amount": "9.5", "currency": "EUR"}, "code": "A-1"}
        lines = [
            {"external_id": "f-1", "kind": "person", "name": "Ada", "custom_fields": good},
            {"external_id": "f-2", "kind": "person", "name": "Bob", "custom_fields": {"seats": "many"}},
            {"external_id": "f-3", "kind": "person", "name": "Cy", "custom_fields": {"nope": 1, "signed": "yes"}},
            {"external_id": "f-4", "kind": "person", "name": "Di", "custom_fields": {"code": "A-1"}},  # unique
            {"external_id": "f-5", "kind": "person", "name": "Ed", "custom_fields": {"code": "B-2"}},
        ]
        body = "\n".join(orjson.dumps(x).decode() for x in lines) + "\n"
        r = await post(client, app, body, content_type="application/x-ndjson")
        assert r.status_code == 200, r.text
        report = r.json()
        assert (report["created"], report["failed"]) == (2, 3)
        assert sorted((e["line"], e["field"]) for e in report["errors"]) == [
            (2, "custom_fields.seats"),
            (3, "custom_fields.nope"),
            (3, "custom_fields.signed"),
            (4, "custom_fields.code"),
        ]
        [ada] = (await client.get("/v1/customers", params={"q": "ada"}, headers=manager(app))).json()["items"]
        assert ada["custom_fields"] == {**good, "budget": {"amount": "9.50", "currency": "EUR"}}
        created = {e["data"]["name"]: e["data"]["custom_fields"] for e in await events(app, "customer.created")}
        assert created == {"Ada": ada["custom_fields"], "Ed": {"code": "B-2"}}

        # CSV: a custom_fields.<key> column per field, each cell typed by the field's definition.
        csv = (
            "external_id,kind,name,custom_fields.seats,custom_fields.signed,custom_fields.budget,custom_fields.regions,"
            "attr.signed,attr.note\n"
            "c-1,person,Fay,3.5,false,12.30 EUR,emea;apac,,\n"
            "c-2,person,Gus,lots,true,,,,\n"
            "c-3,person,Hal,,maybe,12,mars,,\n"
            "c-4,person,Ivy,,,,,true,hello\n"  # an attribute naming a defined field becomes that field
        )
        r = await post(client, app, csv)
        assert r.status_code == 200, r.text
        report = r.json()
        assert (report["created"], report["failed"]) == (2, 2)
        assert sorted((e["line"], e["field"]) for e in report["errors"]) == [
            (3, "custom_fields.seats"),
            (4, "custom_fields.budget"),
            (4, "custom_fields.regions"),
            (4, "custom_fields.signed"),
        ]
        [fay] = (await client.get("/v1/customers", params={"q": "fay"}, headers=manager(app))).json()["items"]
        assert fay["custom_fields"] == {
            "seats": 3.5,
            "signed": False,
            "budget": {"amount": "12.30", "currency": "EUR"},
            "regions": ["emea", "apac"],
        }
        [ivy] = (await client.get("/v1/customers", params={"q": "ivy"}, headers=manager(app))).json()["items"]
        assert (ivy["custom_fields"], ivy["custom_attributes"]) == ({"signed": True}, {"note": "hello"})


class TestImportStreamed:
    async def test_body_in_small_chunks_with_bom_and_crlf(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        body = (
            "\ufeffexternal_id,kind,name,tags\r\n"
            + "".join(f"s-{i},person,Zoë {i},t{i % 2}\r\n" for i in range(30))
            + "s-x,robot,Bad,\r\n"
        ).encode()

        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(body), 37):  # rows, CRLFs and the two bytes of "ë" cut across chunks
                yield body[i : i + 37]

        r = await client.post(URL, content=chunks(), headers={**manager(app), "content-type": "text/csv"})
        assert r.status_code == 200, r.text
        assert (r.json()["created"], r.json()["failed"]) == (30, 1)
        assert [(e["line"], e["field"]) for e in r.json()["errors"]] == [(32, "kind")]
        found = (await client.get("/v1/customers", params={"q": "zoë 1"}, headers=manager(app))).json()["items"]
        assert sorted(c["name"] for c in found) == ["Zoë 1", *(f"Zoë {i}" for i in range(10, 20))]


class TestImportSize:
    async def test_import_route_takes_bodies_past_the_service_limit(
        self, databases: DatabaseFactory, backend: str
    ) -> None:
        url = await databases.new("customer", backend, migrations_of(customer_main.__file__))
        settings = CustomerSettings(
            database_url=url,
            kafka_enabled=False,
            log_json=False,
            max_body_bytes=800,
            import_max_body_bytes=200_000,
            import_batch_size=7,
        )
        app = customer_main.create_app(settings)
        body = "external_id,kind,name,tags\n" + "".join(f"x-{i},person,Person {i},t{i % 3}\n" for i in range(40))
        assert len(body) > 800
        async with running(app) as client:
            r = await post(client, app, body)
            assert r.status_code == 200, r.text
            assert r.json()["created"] == 40
            big = await client.post("/v1/customers", json={"kind": "person", "name": "x" * 5000}, headers=manager(app))
            assert big.status_code == 413  # the other routes keep the service-wide limit
            r = await post(client, app, body * 250)
            assert r.status_code == 413
            # The other import paths take the import's limit too.
            r = await post(client, app, body.replace("x-", "y-"), url=DEPRECATED_URL)
            assert r.status_code == 200 and r.json()["created"] == 40
            lines = "".join(f'{{"external_id": "z-{i}", "kind": "person", "name": "P {i}"}}\n' for i in range(40))
            r = await post(client, app, lines, content_type="application/x-ndjson")
            assert r.status_code == 200 and r.json()["created"] == 40
