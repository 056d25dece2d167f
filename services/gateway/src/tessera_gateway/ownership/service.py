"""The gateway's side of a bulk ownership transfer: validate, fan out, keep one job, aggregate.

``POST /api/v1/ownership/transfer`` names two known user accounts and the resources to move.
The gateway asks each owning service for its share (``POST /v1/ownership/transfers`` there, with
the caller's credential: the service checks the caller's role again), keeps one row naming the
services' job ids (its parts) and audits the request. A service that could not be reached (or
refused) is a part with an ``error``: the others run regardless, and the transfer ends ``failed``;
asking again moves what is left (moved records no longer belong to ``from_user``).

``GET /api/v1/ownership/transfers/{id}`` reads the parts' jobs concurrently and sums them up:
``succeeded`` when every part succeeded, ``queued``/``running`` while any part is, else ``failed``;
``counts`` per resource are the parts' counts.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_gateway.auth.accounts import AccountDirectory
from tessera_gateway.ownership.models import OwnershipTransfer
from tessera_shared.auth import Principal
from tessera_shared.errors import InvalidInput, NotFound, Unavailable, field_error

# Which service moves which resource (the order is the order of the answer's resources).
OWNERS: dict[str, str] = {
    "customers": "customer",
    "leads": "sales",
    "deals": "sales",
    "activities": "sales",
    "tickets": "service-desk",
}
RESOURCES = list(OWNERS)
PART_TIMEOUT = 10.0


def check_request(accounts: AccountDirectory, from_user: str, to_user: str, resources: list[str] | None) -> list[str]:
    """The resources to move (in the usual order); a 422 naming each bad field."""
    errors = []
    for name, user in (("from_user", from_user), ("to_user", to_user)):
        account = accounts.get(user)
        if account is None or account.kind != "user":
            errors.append(field_error(name, f"{user!r} is not a known user account"))
    if from_user == to_user:
        errors.append(field_error("to_user", "must differ from from_user"))
    if errors:
        raise InvalidInput.of(errors)
    asked = RESOURCES if resources is None else resources
    return [r for r in RESOURCES if r in asked]


def _by_service(resources: list[str]) -> dict[str, list[str]]:
    parts: dict[str, list[str]] = {}
    for resource in resources:
        parts.setdefault(OWNERS[resource], []).append(resource)
    return parts


def _reason(response: httpx2.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    detail = body.get("detail") or body.get("title") if isinstance(body, dict) else None
    return f"HTTP {response.status_code}: {detail}" if detail else f"HTTP {response.status_code}"


async def _ask(
    clients: Mapping[str, httpx2.AsyncClient],
    upstreams: Mapping[str, str],
    service: str,
    body: dict[str, Any],
    authorization: str,
) -> dict[str, Any]:
    part: dict[str, Any] = {"service": service, "resources": body["resources"], "id": None, "error": None}
    try:
        r = await clients[service].post(
            f"{upstreams[service]}/v1/ownership/transfers",
            json=body,
            headers={"Authorization": authorization},
            timeout=PART_TIMEOUT,
        )
    except httpx2.HTTPError as exc:
        part["error"] = f"unreachable: {type(exc).__name__}"
        return part
    if r.status_code == 202:
        part["id"] = r.json()["id"]
    else:
        part["error"] = _reason(r)
    return part


async def start_transfer(
    session: AsyncSession,
    clients: Mapping[str, httpx2.AsyncClient],
    upstreams: Mapping[str, str],
    principal: Principal,
    *,
    from_user: str,
    to_user: str,
    resources: list[str],
    only_open: bool,
    authorization: str,
) -> OwnershipTransfer:
    """Ask every owning service for its share (concurrently) and keep the transfer's row.
    503 when no service took its share (nothing was started)."""
    bodies = {
        service: {"from_user": from_user, "to_user": to_user, "resources": mine, "only_open": only_open}
        for service, mine in _by_service(resources).items()
    }
    parts = list(
        await asyncio.gather(*(_ask(clients, upstreams, s, body, authorization) for s, body in bodies.items()))
    )
    if all(p["id"] is None for p in parts):
        reasons = "; ".join(f"{p['service']}: {p['error']}" for p in parts)
        raise Unavailable(f"no owning service took the transfer ({reasons}); retry later", retry_after=5)
    row = OwnershipTransfer(
        from_user=from_user,
        to_user=to_user,
        resources=resources,
        only_open=only_open,
        requested_by=principal.subject,
        parts=parts,
    )
    session.add(row)
    await session.flush()
    return row


async def get_transfer(session: AsyncSession, transfer_id: uuid.UUID) -> OwnershipTransfer:
    row = await session.get(OwnershipTransfer, transfer_id)
    if row is None:
        raise NotFound("ownership transfer", transfer_id)
    return row


async def list_transfers(session: AsyncSession, *, limit: int, from_user: str | None) -> list[OwnershipTransfer]:
    stmt = select(OwnershipTransfer).order_by(col(OwnershipTransfer.created_at).desc()).limit(limit)
    if from_user is not None:
        stmt = stmt.where(col(OwnershipTransfer.from_user) == from_user)
    return list((await session.scalars(stmt)).all())


async def _read_part(
    clients: Mapping[str, httpx2.AsyncClient], upstreams: Mapping[str, str], part: Mapping[str, Any], authorization: str
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "service": part["service"],
        "id": part["id"],
        "resources": list(part["resources"]),
        "status": "failed",
        "counts": {},
        "error": part["error"],
        "finished_at": None,
    }
    if part["id"] is None:
        return out
    service = part["service"]
    try:
        r = await clients[service].get(
            f"{upstreams[service]}/v1/ownership/transfers/{part['id']}",
            headers={"Authorization": authorization},
            timeout=PART_TIMEOUT,
        )
    except httpx2.HTTPError as exc:
        out.update(status="unknown", error=f"unreachable: {type(exc).__name__}")
        return out
    if r.status_code != 200:
        out.update(status="unknown", error=_reason(r))
        return out
    job = r.json()
    out.update(status=job["status"], counts=job["counts"], error=job["error"], finished_at=job["finished_at"])
    return out


def overall(statuses: list[str]) -> str:
    """The transfer's status from its parts'."""
    if statuses and all(s == "succeeded" for s in statuses):
        return "succeeded"
    if any(s in ("running", "unknown") for s in statuses):
        return "running"
    if any(s == "queued" for s in statuses):
        return "running" if any(s != "queued" for s in statuses) else "queued"
    return "failed"


async def describe(
    clients: Mapping[str, httpx2.AsyncClient],
    upstreams: Mapping[str, str],
    row: OwnershipTransfer,
    authorization: str,
) -> dict[str, Any]:
    """The transfer with its parts' current state, summed up."""
    parts = list(await asyncio.gather(*(_read_part(clients, upstreams, p, authorization) for p in row.parts)))
    status = overall([p["status"] for p in parts])
    counts = {r: 0 for r in row.resources}
    for p in parts:
        for resource, n in p["counts"].items():
            counts[resource] = counts.get(resource, 0) + int(n)
    finished: list[datetime] = [datetime.fromisoformat(p["finished_at"]) for p in parts if p["finished_at"]]
    return {
        "id": row.id,
        "status": status,
        "from_user": row.from_user,
        "to_user": row.to_user,
        "resources": list(row.resources),
        "only_open": row.only_open,
        "counts": counts,
        "requested_by": row.requested_by,
        "created_at": row.created_at,
        "finished_at": max(finished) if finished and status in ("succeeded", "failed") else None,
        "parts": parts,
    }
