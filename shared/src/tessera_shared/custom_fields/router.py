"""``/v1/custom-fields`` of one service: list, define (admins), read, change (admins).

A definition is created in its own transaction, then its index is built (PostgreSQL,
concurrently, outside the transaction) before the answer: once the 201 is out, lists filter
on the field through the index.
"""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from tessera_shared.auth import ALL_ROLES, Principal, Role, require_roles
from tessera_shared.custom_fields.model import (
    ID_PATTERN,
    DefinitionIn,
    DefinitionList,
    DefinitionOut,
    DefinitionPatch,
)
from tessera_shared.custom_fields.service import CustomFields
from tessera_shared.db import read_session, unit_of_work
from tessera_shared.events.contracts.custom_fields import CustomFieldEntity
from tessera_shared.http.etag import check_if_match, etag_for

IdPath = Annotated[str, Path(max_length=60, pattern=ID_PATTERN, description="`<entity>.<key>`, e.g. `deal.industry`")]


def custom_fields_router(fields: CustomFields, *, readers: tuple[str, ...] = tuple(ALL_ROLES)) -> APIRouter:
    router = APIRouter(prefix="/v1/custom-fields", tags=["custom fields"])

    def _etag(out: DefinitionOut) -> str:
        return etag_for(out.id, out.version)

    @router.get("", response_model=DefinitionList, summary="List the custom field definitions (archived too)")
    async def list_definitions(
        request: Request,
        _: Annotated[Principal, require_roles(*readers)],
        entity: Annotated[CustomFieldEntity | None, Query(description="only this entity's")] = None,
    ) -> DefinitionList:
        async with read_session(request.app.state.runtime.sessions) as session:
            return DefinitionList(items=[d.out() for d in await fields.list_definitions(session, entity)])

    @router.post(
        "",
        status_code=201,
        response_model=DefinitionOut,
        summary="Define a custom field (admins); its index is built before the answer",
        responses={409: {"description": "the entity has a field with this key: `custom-field-exists`"}},
    )
    async def create_definition(
        body: DefinitionIn,
        request: Request,
        response: Response,
        principal: Annotated[Principal, require_roles(Role.ADMIN)],
    ) -> DefinitionOut:
        sessions = request.app.state.runtime.sessions
        async with unit_of_work(sessions) as session:
            definition = await fields.create(session, body, principal)
        await fields.ensure_indexes(sessions.kw["bind"], [definition])
        out = definition.out()
        response.headers["Location"] = f"/v1/custom-fields/{out.id}"
        response.headers["ETag"] = _etag(out)
        return out

    @router.get("/{definition_id}", response_model=DefinitionOut, summary="One custom field definition")
    async def get_definition(
        definition_id: IdPath,
        request: Request,
        response: Response,
        _: Annotated[Principal, require_roles(*readers)],
    ) -> DefinitionOut:
        async with read_session(request.app.state.runtime.sessions) as session:
            out = (await fields.get(session, definition_id)).out()
        response.headers["ETag"] = _etag(out)
        return out

    @router.patch(
        "/{definition_id}",
        response_model=DefinitionOut,
        summary="Change a custom field (admins): label, options added or renamed, required, unique, "
        "personal, description, archived; type and key never change (422 naming them)",
        responses={
            409: {"description": "`unique` asked while records share a value: `custom-field-not-unique`"},
            412: {"description": "stale If-Match"},
        },
    )
    async def patch_definition(
        definition_id: IdPath,
        body: DefinitionPatch,
        request: Request,
        response: Response,
        principal: Annotated[Principal, require_roles(Role.ADMIN)],
    ) -> DefinitionOut:
        sessions = request.app.state.runtime.sessions
        async with unit_of_work(sessions) as session:
            current = await fields.get(session, definition_id, for_update=True)
            check_if_match(request, current.id, current.version)
            definition = await fields.update(session, definition_id, body, principal)
        if not definition.archived:
            await fields.ensure_indexes(sessions.kw["bind"], [definition])
        out = definition.out()
        response.headers["ETag"] = _etag(out)
        return out

    return router
