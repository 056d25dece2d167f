"""One OpenAPI document at the gateway: its own routes plus every service's, as served under
``/api/v1``, so a frontend team generates one client.

Each service's schemas are renamed ``<service>.<Name>`` (two services may both have an
``ItemOut``) and every ``$ref`` follows; operation ids are prefixed the same way. The merged
document is rebuilt in the background from the services' live ``/openapi.json``; until a
service answers, its paths are missing and ``x-tessera-missing`` names it.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable, Mapping
from typing import Any

import httpx2

from tessera_gateway.proxy.routes import owner_of

log = logging.getLogger(__name__)
REF = "#/components/schemas/"


def _rename_refs(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF):
                out[key] = REF + prefix + value.removeprefix(REF)
            else:
                out[key] = _rename_refs(value, prefix)
        return out
    if isinstance(node, list):
        return [_rename_refs(v, prefix) for v in node]
    return node


def merge(own: dict[str, Any], services: Mapping[str, dict[str, Any] | None]) -> dict[str, Any]:
    """The gateway's document with each service's routable operations mounted under /api/v1."""
    doc = copy.deepcopy(own)
    paths = doc.setdefault("paths", {})
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    missing = []
    for service, sdoc in sorted(services.items()):
        if sdoc is None:
            missing.append(service)
            continue
        prefix = f"{service}."
        for name, schema in sdoc.get("components", {}).get("schemas", {}).items():
            schemas[prefix + name] = _rename_refs(schema, prefix)
        for path, operations in sdoc.get("paths", {}).items():
            if not path.startswith("/v1/") or owner_of(path.removeprefix("/v1/")) != service:
                continue  # probes, event schemas and internal routes are not part of the public API
            public_path = "/api" + path
            if public_path in paths:
                continue  # the gateway serves this one itself (e.g. the composed export)
            renamed = _rename_refs(operations, prefix)
            for op in renamed.values():
                if isinstance(op, dict) and "operationId" in op:
                    op["operationId"] = f"{service}_{op['operationId']}"
            paths[public_path] = renamed
    if missing:
        doc["x-tessera-missing"] = missing
    else:
        doc.pop("x-tessera-missing", None)
    return doc


class MergedOpenAPI:
    """Keeps the merged document fresh; ``document()`` is what /openapi.json serves."""

    def __init__(self, own: Callable[[], dict[str, Any]], upstreams: Mapping[str, str]) -> None:
        self._own = own
        self._upstreams = upstreams
        self._fetched: dict[str, dict[str, Any] | None] = dict.fromkeys(upstreams)
        self._merged: dict[str, Any] | None = None

    def document(self) -> dict[str, Any]:
        if self._merged is None:
            self._merged = merge(self._own(), self._fetched)
        return self._merged

    async def refresh(self, clients: Mapping[str, httpx2.AsyncClient]) -> bool:
        async def one(service: str, url: str) -> dict[str, Any] | None:
            try:
                r = await clients[service].get(f"{url}/openapi.json", timeout=5.0)
                return r.json() if r.status_code == 200 else None
            except (httpx2.HTTPError, ValueError):
                return None

        docs = await asyncio.gather(*(one(s, u) for s, u in self._upstreams.items()))
        for service, fetched in zip(self._upstreams, docs, strict=True):
            if fetched is not None:
                self._fetched[service] = fetched
        self._merged = merge(self._own(), self._fetched)
        return all(d is not None for d in self._fetched.values())

    async def keep_fresh(self, clients: Mapping[str, httpx2.AsyncClient]) -> None:
        while True:
            try:
                complete = await self.refresh(clients)
            except Exception:  # never let the docs take the gateway down
                log.warning("could not refresh the merged OpenAPI", exc_info=True)
                complete = False
            await asyncio.sleep(300 if complete else 5)
