"""The docs pages in a real browser with no way out: headless Debian Chromium, every host name
but 127.0.0.1 unresolvable (a CDN load would fail), on the gateway and on each service.

Each ``/docs`` must render Swagger UI's operations from the files the process serves itself;
Authorize (OAuth2 password flow, ``admin``/``local``) must get a token from the gateway, also
from a service's page (a cross-origin call to the gateway's absolute ``tokenUrl``); "Try it
out" on one GET must answer 200 with that token. Every request the pages make goes to
127.0.0.1. ReDoc (``/redoc``) renders too (its footer's Redocly logo, the one remote
reference in its bundle, is dropped when it cannot load). Screenshots land in ``.artifacts/ui/`` (ignored).

The stack is the five apps served by uvicorn in this process (tools/inprocess_stack.py);
the browser is Debian's ``chromium`` (``make test`` installs it: deploy/local/chromium.sh),
driven by Playwright with that executable (no browser download).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from inprocess_stack import InprocessStack  # noqa: E402 - importable once tools/ is on the path

SCREENSHOTS = Path(os.environ.get("TESSERA_UI_SCREENSHOTS", ROOT / ".artifacts" / "ui"))
CHROMIUM = os.environ.get("TESSERA_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
# Chromium as this machine's closed network wants it (no background calls home), and no name
# resolution but loopback: a page that reached for a CDN would fail to load it.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
# Swagger UI renders the gateway's whole document before its first operation shows: 15 s was
# not enough with four test workers on two cores (make test).
TIMEOUT_MS = 60_000
# ReDoc lays out the whole document in the page's one thread before it shows a heading: the
# gateway's (every service's operations and schemas) took 17 s of a loaded CI machine's CPU.
REDOC_TIMEOUT_MS = 90_000
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"

# (process, the path of one GET list operation as the process serves it)
PAGES = [
    ("gateway", "/api/v1/customers"),
    ("customer", "/v1/customers"),
    ("sales", "/v1/deals"),
    ("service-desk", "/v1/tickets"),
    ("billing", "/v1/invoices"),
]

if CHROMIUM is None:
    pytestmark = pytest.mark.skip(reason="no chromium (make test installs Debian's: deploy/local/chromium.sh)")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InprocessStack]:
    with InprocessStack(tmp_path_factory.mktemp("ui-stack")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _only_loopback(urls: list[str]) -> list[str]:
    return [u for u in urls if urlsplit(u).scheme in ("http", "https") and urlsplit(u).hostname != "127.0.0.1"]


@pytest.mark.parametrize(("process", "path"), PAGES, ids=[p for p, _ in PAGES])
def test_docs_render_authorize_and_try_it_out_offline(stack: InprocessStack, browser, process: str, path: str) -> None:
    base = stack.urls[process]
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    requests: list[str] = []
    failed: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    context.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
    page = context.new_page()
    try:
        page.goto(f"{base}/docs")
        operation = (
            page.locator(".opblock.opblock-get")
            .filter(has=page.locator(f'.opblock-summary-path[data-path="{path}"]'))
            .first
        )
        operation.wait_for()
        assert page.locator(".opblock").count() > 5, "Swagger UI rendered too few operations"

        # Authorize: the password flow against the document's tokenUrl (the gateway's).
        page.locator(".auth-wrapper button.authorize").click()
        dialog = page.locator(".dialog-ux .modal-ux")
        dialog.locator("#oauth_username").fill("admin")
        dialog.locator("#oauth_password").fill("local")
        dialog.locator(".auth-btn-wrapper button.authorize").click()
        logout = dialog.locator(".auth-btn-wrapper button", has_text="Logout")
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            logout.wait_for()
        except PlaywrightTimeout:
            errors = dialog.locator(".errors").all_inner_texts()
            pytest.fail(f"Authorize failed on {process}: {errors}; failed requests: {failed}")
        dialog.locator("button.btn-done").click()
        token_posts = [u for u in requests if u == f"{stack.urls['gateway']}/auth/token"]
        assert token_posts, f"no token request to the gateway: {requests}"

        # Try it out: one GET with the token just obtained.
        operation.locator(".opblock-summary-control").click()
        operation.locator("button.try-out__btn").click()
        operation.locator("button.execute").click()
        status = operation.locator(".live-responses-table tbody .response-col_status").first
        status.wait_for()
        assert status.inner_text().strip() == "200", operation.locator(".live-responses-table").inner_text()

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"docs-{process}.png"), full_page=False)
        assert not _only_loopback(requests), f"the page reached out: {_only_loopback(requests)}"
        assert not failed, failed
    finally:
        context.close()


@pytest.mark.parametrize("process", ["gateway", "customer"])
def test_redoc_renders_offline(stack: InprocessStack, browser, process: str) -> None:
    context = browser.new_context()
    context.set_default_timeout(REDOC_TIMEOUT_MS)
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    try:
        page.goto(f"{stack.urls[process]}/redoc")
        page.locator(".api-content h2").first.wait_for()
        page.screenshot(path=str(SCREENSHOTS / f"redoc-{process}.png"))
        # ReDoc's one remote reference: the "API docs by Redocly" logo, dropped when it fails.
        assert set(_only_loopback(requests)) <= {REDOC_LOGO}, f"the page reached out: {_only_loopback(requests)}"
    finally:
        context.close()
