"""The 405 table's paths (tessera_shared.http.methods.route_paths), read from the routes as
declared, are what FastAPI's own route contexts give, for every process's app."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi import routing
from fastapi.routing import APIRoute

from tessera_shared.http.methods import route_paths

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from service_apps import main_module, settings_class

PROCESSES = ["customer", "sales", "service-desk", "billing", "notifications", "gateway"]


def paths_from_contexts(app: Any) -> dict[str, list[str]]:
    """FastAPI's view: every route's effective context (what the OpenAPI document is built from)."""
    paths: dict[str, list[str]] = {}
    for context in routing.iter_route_contexts(app.routes):
        path = context.path_format
        if isinstance(context.original_route, APIRoute) and context.include_in_schema and path is not None:
            paths.setdefault(path, []).extend(m.lower() for m in context.methods or ())
    return paths


@pytest.mark.parametrize("process", PROCESSES)
def test_route_paths_are_fastapis_route_contexts(process: str) -> None:
    app = main_module(process).create_app(
        settings_class(process)(database_url="sqlite+aiosqlite:///:memory:", kafka_enabled=False)
    )
    ours = route_paths(app)
    assert ours == paths_from_contexts(app)
    assert len(ours) > 20  # every router is walked, nested ones too
    documented = set(app.openapi()["paths"])
    assert set(ours) >= documented
