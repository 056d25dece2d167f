"""Fetch several upstream resources at once under one deadline; each gets its own status.

A slow or dead service costs its own section, never the whole answer: the caller gets what
arrived in time plus, per section, ``ok``, ``not_found``, ``forbidden``, ``timeout``,
``unavailable`` or ``error``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx2

from tessera_shared.observability import current_traceparent, request_id_var

Status = Literal["ok", "not_found", "forbidden", "timeout", "unavailable", "error"]


@dataclass(frozen=True)
class Fetch:
    service: str
    path: str
    params: Mapping[str, str | int] = field(default_factory=dict)


@dataclass
class Result:
    status: Status
    body: Any = None
    http_status: int | None = None


def _status_of(code: int) -> Status:
    if code < 300:
        return "ok"
    if code == 404:
        return "not_found"
    if code in (401, 403):
        return "forbidden"
    return "error"


async def _one(client: httpx2.AsyncClient, base: str, fetch: Fetch, headers: dict[str, str]) -> Result:
    try:
        r = await client.get(f"{base}{fetch.path}", params=dict(fetch.params), headers=headers)
    except httpx2.TimeoutException:
        return Result("timeout")
    except httpx2.TransportError:
        return Result("unavailable")
    try:
        body = r.json()
    except ValueError:
        body = None
    return Result(_status_of(r.status_code), body if r.status_code < 300 else None, r.status_code)


async def fetch_all(
    clients: Mapping[str, httpx2.AsyncClient],
    upstreams: Mapping[str, str],
    fetches: Mapping[str, Fetch],
    *,
    authorization: str,
    deadline: float,
    extra_headers: Mapping[str, str] | None = None,
) -> dict[str, Result]:
    """Run every fetch concurrently; whatever is not back after ``deadline`` s is a timeout.
    ``extra_headers``: e.g. the caller's team scope (tessera_gateway.teams.scope)."""
    headers = {"authorization": authorization, "x-request-id": request_id_var.get() or "", **(extra_headers or {})}
    if tp := current_traceparent():
        headers["traceparent"] = tp
    tasks = {
        name: asyncio.create_task(_one(clients[f.service], upstreams[f.service], f, headers))
        for name, f in fetches.items()
    }
    done, pending = await asyncio.wait(tasks.values(), timeout=deadline)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    results: dict[str, Result] = {}
    for name, task in tasks.items():
        if task in done and not task.cancelled() and task.exception() is None:
            results[name] = task.result()
        elif task in done:
            results[name] = Result("error")
        else:
            results[name] = Result("timeout")
    return results
