"""The docs pages without a browser (milliseconds): what the browser test proves, at the
level of markup and headers, for every process."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from service_apps import SERVICES, build_app


@pytest.mark.parametrize("service", SERVICES)
def test_docs_pages_load_nothing_from_outside(service: str) -> None:
    client = TestClient(build_app(service))
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        urls = re.findall(r'(?:src|href)="([^"]+)"', html.text) + re.findall(r"url: '([^']+)'", html.text)
        assert urls and all(u.startswith("/") for u in urls), urls  # served by the process itself
        for url in urls:
            assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "gateway"])
def test_a_services_authorize_gets_tokens_from_the_gateway(service: str) -> None:
    app = build_app(service, gateway_url="http://gw.example:8000/")
    flows = app.openapi()["components"]["securitySchemes"]["tessera"]["flows"]
    assert flows["password"]["tokenUrl"] == "http://gw.example:8000/auth/token"
    browser_facing = build_app(service, gateway_url="http://gateway:8000", docs_gateway_url="https://api.example")
    flows = browser_facing.openapi()["components"]["securitySchemes"]["tessera"]["flows"]
    assert flows["password"]["tokenUrl"] == "https://api.example/auth/token"


def test_the_gateway_lets_the_services_docs_ask_for_tokens_in_local_mode() -> None:
    gateway = build_app("gateway", sales_url="http://127.0.0.1:18002")
    assert (
        gateway.openapi()["components"]["securitySchemes"]["tessera"]["flows"]["password"]["tokenUrl"] == "/auth/token"
    )
    client = TestClient(gateway)
    for origin in ("http://127.0.0.1:18002", "http://localhost:18002", "http://127.0.0.1:8001"):
        # Swagger UI's token request: a form post with X-Requested-With, so a preflight first.
        preflight = client.options(
            "/auth/token",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-requested-with",
            },
        )
        assert preflight.status_code == 200, (origin, preflight.text)
        assert preflight.headers["access-control-allow-origin"] == origin
    refused = client.options(
        "/auth/token", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert refused.status_code == 400
    production = build_app("gateway", environment="test")
    assert (
        "access-control-allow-origin"
        not in TestClient(production)
        .options("/auth/token", headers={"Origin": "http://127.0.0.1:8001", "Access-Control-Request-Method": "POST"})
        .headers
    )
