"""``?expand=`` on reads and lists through the gateway (issue 23, item 3).

``GET /api/v1/deals/{id}?expand=customer`` answers the deal with its customer embedded under the
field named without ``_id`` (``deal.customer``); a list embeds into each item, with ONE batch read
per expanded service for the whole page (``POST /v1/{resource}/batch/read``), not one call per
record. The embedded record is read with the caller's own token, so it is what the caller may read
at its service: ``null`` when the caller may not see it, it is gone, or its service did not answer.

The gateway checks ``expand`` (an expansion the path does not offer is a 422 naming ``expand``,
with the gateway's ``instance``) and removes it from the query string before forwarding, so the
owning service, which refuses parameters it does not declare, never sees it. With ``?fields=`` the
id an expansion needs is added to the selection, and the selection may name the expansion itself
(``?expand=customer&fields=id,title,customer``: the embedded record is the gateway's to add).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx2
import orjson
from fastapi import Request
from fastapi.responses import Response

from tessera_gateway.apikeys.upstream import upstream_authorization
from tessera_gateway.proxy.upstream import UpstreamError, UpstreamPool
from tessera_gateway.teams.scope import team_scope_headers
from tessera_shared.errors import InvalidInput
from tessera_shared.observability import current_traceparent, request_id_var

PARAM = "expand"
FIELDS = "fields"
# The id field an expansion reads, and the field it writes: ``customer_id`` -> ``customer``.
MAX_BATCH = 1000
UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


@dataclass(frozen=True)
class Target:
    """Where an expanded record is read: its service and resource (``/v1/{resource}/batch/read``)."""

    service: str
    resource: str


CUSTOMER = Target("customer", "customers")
DEAL = Target("sales", "deals")
# Per resource under /api/v1: the expansions its read and its list offer.
EXPANSIONS: dict[str, dict[str, Target]] = {
    "deals": {"customer": CUSTOMER},
    "leads": {"customer": CUSTOMER},
    "activities": {"customer": CUSTOMER, "deal": DEAL},
    "tickets": {"customer": CUSTOMER},
    "invoices": {"customer": CUSTOMER, "deal": DEAL},
}
_PATH = re.compile(rf"^(?P<resource>[a-z-]+)(?:/(?P<id>{UUID}))?/?$")


@dataclass(frozen=True)
class Expansion:
    names: tuple[str, ...]
    targets: dict[str, Target]
    single: bool

    async def embed(self, request: Request, response: Response) -> Response:
        """The upstream's answer with each named record embedded; problems pass through untouched."""
        if response.status_code != 200 or not response.headers.get("content-type", "").startswith("application/json"):
            return response
        body = orjson.loads(response.body)
        records = [body] if self.single else body.get("items", [])
        records = [r for r in records if isinstance(r, dict)]
        wanted: dict[Target, set[str]] = {}
        for name in self.names:
            target = self.targets[name]
            wanted.setdefault(target, set()).update(
                str(r[f"{name}_id"]) for r in records if isinstance(r.get(f"{name}_id"), str)
            )
        found: dict[Target, dict[str, Any]] = {}
        reads = [read_many(request, target, sorted(ids)) for target, ids in wanted.items()]
        for target, records_by_id in zip(wanted, await asyncio.gather(*reads), strict=True):
            found[target] = records_by_id
        for record in records:
            for name in self.names:
                key = record.get(f"{name}_id")
                record[name] = found[self.targets[name]].get(key) if isinstance(key, str) else None
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "etag")}
        # The ETag names the record alone, not what is embedded: an expanded answer has none.
        return Response(orjson.dumps(body), status_code=200, headers=headers, media_type="application/json")


def plan(request: Request, path: str) -> Expansion | None:
    """The expansions ``request`` asks for at ``path`` (validated), ``expand`` taken out of the query
    string that is forwarded; None when it asks for none."""
    pairs = request.query_params.multi_items()
    asked = [v for k, v in pairs if k == PARAM]
    if not asked:
        return None
    names = tuple(dict.fromkeys(n.strip() for value in asked for n in value.split(",") if n.strip()))
    match = _PATH.match(path) if request.method == "GET" else None
    offered = EXPANSIONS.get(match["resource"], {}) if match else {}
    unknown = [n for n in names if n not in offered]
    if unknown or not names:
        choice = f"; this path offers {', '.join(sorted(offered))}" if offered else "; this path offers none"
        what = ", ".join(repr(n) for n in unknown) if unknown else "nothing"
        raise InvalidInput(PARAM, f"unknown expansion {what}{choice}", "query")
    kept = []
    for key, value in pairs:
        if key == PARAM:
            continue
        if key == FIELDS:  # the ids the expansions need stay in the selection; their names may be in it
            selected = [f.strip() for f in value.split(",") if f.strip() and f.strip() not in names]
            value = ",".join(dict.fromkeys([*selected, *(f"{n}_id" for n in names)]))
        kept.append((key, value))
    request.scope["query_string"] = urlencode(kept).encode("latin-1")
    request.__dict__.pop("_query_params", None)  # Starlette's parsed copy, read again from the scope
    assert match is not None  # noqa: S101 - offered is empty without a match
    return Expansion(names, {n: offered[n] for n in names}, single=match["id"] is not None)


async def read_many(request: Request, target: Target, ids: list[str]) -> dict[str, Any]:
    """The records ``ids`` as the caller may read them: one batch read per 1,000 ids (a page is 200)."""
    if not ids:
        return {}
    headers = {
        "authorization": upstream_authorization(request) or "",
        "content-type": "application/json",
        "x-request-id": request_id_var.get() or "",
        **await team_scope_headers(request),
    }
    if tp := current_traceparent():
        headers["traceparent"] = tp
    path = f"/v1/{target.resource}/batch/read"
    # The hop's own keep-alive pool when there is one (proxy/upstream.py), else httpx2 (in-process tests).
    pool: UpstreamPool | None = getattr(request.app.state, "upstream_pools", {}).get(target.service)
    out: dict[str, Any] = {}
    for start in range(0, len(ids), MAX_BATCH):
        body = orjson.dumps({"ids": ids[start : start + MAX_BATCH]})
        try:
            if pool is not None:
                answer = await pool.request("POST", path, list(headers.items()), body)
                status, content = answer.status, answer.body
            else:
                client: httpx2.AsyncClient = request.app.state.clients[target.service]
                r = await client.post(
                    f"{request.app.state.upstreams[target.service]}{path}", content=body, headers=headers
                )
                status, content = r.status_code, r.content
        except (UpstreamError, httpx2.TransportError):
            continue  # not answered: the records stay null
        if status == 200:
            out.update({str(item["id"]): item for item in orjson.loads(content).get("items", [])})
    return out


def document(paths: dict[str, Any]) -> None:
    """``expand`` in the merged OpenAPI document, on each read and list that offers it."""
    for path, operations in paths.items():
        match = re.match(r"^/api/v1/(?P<resource>[a-z-]+)(?:/\{[a-z_]+\})?$", path)
        offered = EXPANSIONS.get(match["resource"]) if match else None
        get = operations.get("get") if offered else None
        if not isinstance(get, dict) or offered is None:
            continue
        names = sorted(offered)
        alternatives = "|".join(names)
        parameters = [p for p in get.get("parameters", []) if p.get("name") != PARAM]
        parameters.append(
            {
                "name": PARAM,
                "in": "query",
                "required": False,
                "description": "Embed related records, comma-separated: "
                + ", ".join(f"`{n}` (`{n}_id` -> `{n}`)" for n in names)
                + ". Each is read with your token (null when you may not read it or it is gone); a list "
                "costs one call per expanded service, not one per record. Served by the gateway only; an "
                "expansion not offered here is a 422 naming `expand`.",
                "schema": {"type": "string", "pattern": f"^({alternatives})(,({alternatives}))*$"},
            }
        )
        get["parameters"] = parameters
