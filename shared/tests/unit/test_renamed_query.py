"""RenamedQueryParameters: the reports' former ?from=&to= reach the endpoint as ?since=&until=."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI, Query

from tessera_shared.http.renamed import RenamedQueryParameters, formerly, is_report_path


def make_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RenamedQueryParameters)

    @app.get("/v1/reports/range")
    async def report(since: str, until: Annotated[str | None, Query()] = None, q: str | None = None) -> dict:
        return {"since": since, "until": until, "q": q}

    @app.get("/v1/things")
    async def things(request_from: Annotated[str | None, Query(alias="from")] = None) -> dict:
        return {"from": request_from}

    return app


async def get(path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app()), base_url="http://t") as client:
        return await client.get(path)


async def test_former_names_are_the_new_parameters_on_report_paths() -> None:
    r = await get("/v1/reports/range?from=2026-01-01&to=2026-02-01&q=a+b%26c")
    assert r.status_code == 200, r.text
    assert r.json() == {"since": "2026-01-01", "until": "2026-02-01", "q": "a b&c"}  # the rest byte for byte
    r = await get("/v1/reports/range?since=2026-01-01&to=2026-02-01")
    assert r.json() == {"since": "2026-01-01", "until": "2026-02-01", "q": None}
    r = await get("/v1/reports/range?%66rom=x")  # a percent-encoded name is the same name
    assert r.json()["since"] == "x"
    r = await get("/v1/reports/range?since=x&%E2%82%AC=1&%ff%fe=2")  # names that are no latin-1
    assert r.status_code == 200 and r.json()["since"] == "x"


async def test_a_required_new_name_given_by_its_former_name_is_given() -> None:
    assert (await get("/v1/reports/range?to=2026-02-01")).status_code == 422  # since missing either way
    assert (await get("/v1/reports/range?from=2026-02-01")).status_code == 200


async def test_both_names_of_one_parameter_are_a_422_naming_the_new_one() -> None:
    r = await get("/v1/reports/range?from=2026-01-01&since=2026-01-02")
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "urn:tessera:problem:validation-error"
    assert body["errors"] == [
        {"field": "since", "message": "give 'since' or its former name 'from', not both", "location": "query"}
    ]


async def test_other_paths_keep_their_query_as_sent() -> None:
    assert (await get("/v1/things?from=a")).json() == {"from": "a"}


@pytest.mark.parametrize(
    ("path", "applies"),
    [
        ("/v1/reports/funnel", True),
        ("/api/v1/tickets/reports/satisfaction", True),
        ("/v1/customers/reports/retention", True),
        ("/v1/reportsx", False),
        ("/v1/exchange-rates/EUR/USD", False),
    ],
)
def test_report_paths(path: str, applies: bool) -> None:
    assert is_report_path(path) is applies


def test_the_description_names_the_former_name() -> None:
    assert formerly("since") == "Formerly `from`, still accepted (deprecated)."
    assert formerly("until") == "Formerly `to`, still accepted (deprecated)."


async def test_an_answer_to_a_former_name_announces_deprecation_and_sunset() -> None:
    """docs/api.md, "Versions and deprecation": Deprecation (RFC 9745) and Sunset (RFC 8594)."""
    r = await get("/v1/reports/range?from=2026-01-01")
    assert r.status_code == 200
    assert r.headers["deprecation"] == "@1796426852"  # 2026-12-04T23:27:32Z
    assert r.headers["sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"
    current = await get("/v1/reports/range?since=2026-01-01")
    assert "deprecation" not in current.headers and "sunset" not in current.headers
