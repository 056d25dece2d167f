"""Each service serves the JSON Schemas of the events it publishes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from tessera_shared.auth import ALL_ROLES, Principal, require_roles
from tessera_shared.events.schemas import all_schemas, producers_of
from tessera_shared.http.errors import Problem
from tessera_shared.once import once_per_arguments


@once_per_arguments
def schemas_router(service: str) -> APIRouter:
    router = APIRouter(prefix="/v1/events/schemas", tags=["events"])
    published = {t: s for t, s in all_schemas().items() if service in producers_of(t)}

    @router.get("", summary="JSON Schemas of the events this service publishes")
    async def list_schemas(_: Annotated[Principal, require_roles(*ALL_ROLES)]) -> dict[str, Any]:
        return {"items": [{"type": t, "dataschema": s["$id"]} for t, s in published.items()]}

    @router.get("/{event_type}", summary="The JSON Schema of one event type's data")
    async def get_schema(
        event_type: Annotated[str, Path(max_length=120)],
        _: Annotated[Principal, require_roles(*ALL_ROLES)],
    ) -> dict[str, Any]:
        if event_type not in published:
            raise Problem(404, f"this service publishes no event type {event_type!r}")
        return published[event_type]

    return router
