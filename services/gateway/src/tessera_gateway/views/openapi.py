"""One OpenAPI document at the gateway: its own routes plus every service's, as served under
``/api/v1``, so a frontend team generates one client.

Each service's schemas are renamed ``<service>.<Name>`` (two services may both have an
``ItemOut``) and every ``$ref`` follows, except ``Problem``, which all share. Operation ids
stay as the services name them (short camelCase, unique across services: a test checks it;
one that collides with an operation already merged gets its service as a prefix). Forwarded
operations also document what the gateway itself may answer (429, 502, 503, 504). The merged
document is rebuilt in the background from the services' live ``/openapi.json``; until a
service answers, its paths are missing and ``x-tessera-missing`` names it.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import httpx2
from tessera_shared.http.openapi import drop_unused_schemas, problem_response

from tessera_gateway.proxy.routes import owner_of

log = logging.getLogger(__name__)
REF = "#/components/schemas/"


SHARED_SCHEMAS = {"Problem"}
# What the gateway answers itself on a forwarded call (proxy/router.py).
GATEWAY_ANSWERS = {
    401: (), 429: ("rate-limited",), 502: ("upstream-error",), 503: ("upstream-unavailable",),
    504: ("upstream-timeout",),
}


def _rename_refs(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF):
                name = value.removeprefix(REF)
                out[key] = REF + (name if name in SHARED_SCHEMAS else prefix + name)
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
    operation_ids = {op.get("operationId") for operations in paths.values() for op in operations.values()
                     if isinstance(op, dict)}
    for service, sdoc in sorted(services.items()):
        if sdoc is None:
            missing.append(service)
            continue
        prefix = f"{service}."
        for name, schema in sdoc.get("components", {}).get("schemas", {}).items():
            if name in SHARED_SCHEMAS:
                schemas.setdefault(name, schema)
            else:
                schemas[prefix + name] = _rename_refs(schema, prefix)
        for path, operations in sdoc.get("paths", {}).items():
            if not path.startswith("/v1/") or owner_of(path.removeprefix("/v1/")) != service:
                continue  # probes, event schemas and internal routes are not part of the public API
            public_path = "/api" + path
            if public_path in paths:
                continue  # the gateway serves this one itself (e.g. the composed export)
            renamed = _rename_refs(operations, prefix)
            for method, op in renamed.items():
                if not isinstance(op, dict) or method == "parameters":
                    continue
                if op.get("operationId") in operation_ids:
                    op["operationId"] = f"{service}_{op['operationId']}"
                operation_ids.add(op.get("operationId"))
                responses = op.setdefault("responses", {})
                for status, slugs in GATEWAY_ANSWERS.items():
                    if str(status) in responses and status not in (503,):
                        continue
                    known = [s for s in re.findall(r"`([a-z0-9-]+)`", responses.get(str(status), {})
                                                  .get("description", ""))]
                    responses[str(status)] = problem_response(status, [*known, *slugs])
                op["responses"] = dict(sorted(responses.items()))
            paths[public_path] = renamed
    if missing:
        doc["x-tessera-missing"] = missing
    else:
        doc.pop("x-tessera-missing", None)
    return drop_unused_schemas(doc)


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
