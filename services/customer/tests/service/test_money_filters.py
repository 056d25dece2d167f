"""The value filters are decimal strings with their limits in the OpenAPI, like every money input."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from tessera_shared.testing.plugin import bearer


async def test_monetary_filters_are_decimal_strings(app: FastAPI, client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    parameters = {p["name"]: p["schema"] for p in document["paths"]["/v1/customers"]["get"]["parameters"]}
    schema = next(s for s in parameters["min_monetary"]["anyOf"] if s.get("type") != "null")
    assert schema["type"] == "string" and "number" not in str(parameters["min_monetary"])
    assert re.search(schema["pattern"], "1000.50") and not re.search(schema["pattern"], "1e3")
    headers = bearer(app, "admin", "admin")
    assert (await client.get("/v1/customers?min_monetary=1000.50", headers=headers)).status_code == 200
    r = await client.get("/v1/customers?min_monetary=1e3", headers=headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "min_monetary"
    segment = document["components"]["schemas"]["SegmentFilter"]["properties"]["max_monetary"]
    assert "number" not in str(segment)
