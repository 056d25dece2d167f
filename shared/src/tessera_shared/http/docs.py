"""The docs pages every process serves, with nothing loaded from the internet.

``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) load their JavaScript, CSS and favicon from
``/docs/assets/``: the files shipped in the ``fastapi-offline`` package (Swagger UI 5, ReDoc 2),
so the pages work on a machine or network with no way out (FastAPI's defaults come from a CDN).

Authorize: the OAuth2 password flow posts to the document's ``tokenUrl``. Only the gateway
issues tokens, so a service's document names the gateway's token endpoint as an absolute URL
(``<gateway_url>/auth/token``); a relative one would be resolved against the service and 404.
The gateway answers that cross-origin call (CORS; in local mode for the services' own origins).
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
# The gateway's own token endpoint (relative on the gateway's own pages).
TOKEN_PATH = "/auth/token"  # noqa: S105 - a URL path, not a password


def assets_dir() -> str:
    return str(files("fastapi_offline") / "static")


def token_url_for(name: str, gateway_url: str) -> str:
    """Where a process's docs get tokens: the gateway itself, or the gateway's absolute URL."""
    return TOKEN_PATH if name == "gateway" else gateway_url.rstrip("/") + TOKEN_PATH


def point_token_url(document: dict[str, Any], token_url: str) -> dict[str, Any]:
    """Every OAuth2 flow of ``document`` that has a token URL gets ``token_url``."""
    for scheme in document.get("components", {}).get("securitySchemes", {}).values():
        for flow in (scheme.get("flows") or {}).values():
            if isinstance(flow, dict) and "tokenUrl" in flow:
                flow["tokenUrl"] = token_url
    return document


def install_docs(app: FastAPI, title: str) -> None:
    """``/docs``, ``/redoc``, the OAuth2 redirect page and the assets, on an app built with
    ``docs_url=None, redoc_url=None``."""
    app.mount(ASSETS, StaticFiles(directory=assets_dir()), name="docs-assets")

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        base = root(request)
        return get_swagger_ui_html(
            openapi_url=f"{base}{app.openapi_url}",
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{base}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{base}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{base}{ASSETS}/favicon.png",
            oauth2_redirect_url=f"{base}{OAUTH2_REDIRECT}",
        )

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        base = root(request)
        return get_redoc_html(
            openapi_url=f"{base}{app.openapi_url}",
            title=f"{title} - ReDoc",
            redoc_js_url=f"{base}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{base}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
