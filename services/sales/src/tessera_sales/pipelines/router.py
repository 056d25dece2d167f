"""/v1/pipelines: sales pipelines and their ordered stages (managers and admins change them)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response

from tessera_sales.api import DEAL_READERS
from tessera_sales.pipelines import service
from tessera_sales.pipelines.models import Pipeline, PipelineStage
from tessera_sales.pipelines.schemas import PipelineCreate, PipelineList, PipelineOut, PipelinePatch, StageOut
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.idempotency import IdempotencyDep

router = APIRouter(prefix="/v1/pipelines", tags=["pipelines"])

READERS = DEAL_READERS
WRITERS = (Role.SALES_MANAGER,)  # and admins


def pipeline_out(p: Pipeline, stages: list[PipelineStage], counts: dict[tuple[uuid.UUID, str], int]) -> PipelineOut:
    return PipelineOut(
        id=p.id,
        key=p.key,
        name=p.name,
        is_default=p.is_default,
        archived=p.archived_at is not None,
        archived_at=p.archived_at,
        stages=[
            StageOut(
                key=s.key,
                name=s.name,
                position=s.position,
                probability=s.probability,
                kind=s.kind,
                archived=s.archived_at is not None,
                deals=counts.get((p.id, s.key), 0),
            )
            for s in sorted(stages, key=lambda s: s.position)
        ],
        version=p.version,
        created_by=p.created_by,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


async def respond(session: SessionDep, pipeline: Pipeline, response: Response | None = None) -> PipelineOut:
    stages = (await service.stages_rows(session, [pipeline]))[pipeline.id]
    counts = await service.deals_per_stage(session, [pipeline.id])
    if response is not None:
        response.headers["ETag"] = etag_for(pipeline.id, pipeline.version)
    return pipeline_out(pipeline, stages, counts)


@router.get("", response_model=PipelineList, summary="List pipelines (the default first) with their stages")
async def list_pipelines(
    session: SessionDep,
    principal: Annotated[Principal, require_roles(*READERS)],
    include_archived: bool = False,
) -> PipelineList:
    rows = await service.list_pipelines(session, include_archived=include_archived)
    stages = await service.stages_rows(session, rows)
    counts = await service.deals_per_stage(session, [p.id for p in rows])
    return PipelineList(items=[pipeline_out(p, stages[p.id], counts) for p in rows])


@router.post(
    "",
    status_code=201,
    response_model=PipelineOut,
    summary="Create a pipeline with its ordered stages (managers)",
    responses={409: {"description": "a pipeline with the key exists"}},
)
async def create_pipeline(
    body: PipelineCreate,
    session: SessionDep,
    idem: IdempotencyDep,
    principal: Annotated[Principal, require_roles(*WRITERS)],
) -> Response:
    if (replayed := await idem.begin(body)) is not None:
        return replayed
    pipeline = await service.create_pipeline(session, body, principal)
    return await idem.respond(
        201,
        await respond(session, pipeline),
        headers={"Location": f"/v1/pipelines/{pipeline.id}", "ETag": etag_for(pipeline.id, pipeline.version)},
    )


@router.get("/{pipeline_id}", response_model=PipelineOut, summary="One pipeline with its stages")
async def get_pipeline(
    pipeline_id: uuid.UUID,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*READERS)],
) -> PipelineOut:
    return await respond(session, await service.get_pipeline(session, pipeline_id), response)


@router.patch(
    "/{pipeline_id}",
    response_model=PipelineOut,
    summary="Rename, archive, or change the stages: reorder, add, re-weight, archive, remove (managers)",
    responses={
        409: {"description": "a removed stage holds deals (`stage-in-use`, naming how many)"},
        412: {"description": "stale If-Match"},
    },
)
async def patch_pipeline(
    pipeline_id: uuid.UUID,
    body: PipelinePatch,
    request: Request,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*WRITERS)],
) -> PipelineOut:
    pipeline = await service.get_pipeline(session, pipeline_id, for_update=True)
    check_if_match(request, pipeline.id, pipeline.version)
    await service.update_pipeline(session, pipeline, body, principal)
    return await respond(session, pipeline, response)


@router.delete(
    "/{pipeline_id}/stages/{key}",
    response_model=PipelineOut,
    summary="Remove a stage that holds no deals (managers)",
    responses={409: {"description": "the stage holds deals (`stage-in-use`, naming how many), or is the won/lost one"}},
)
async def delete_stage(
    pipeline_id: uuid.UUID,
    key: str,
    session: SessionDep,
    response: Response,
    principal: Annotated[Principal, require_roles(*WRITERS)],
) -> PipelineOut:
    pipeline = await service.get_pipeline(session, pipeline_id, for_update=True)
    await service.remove_stage(session, pipeline, key, principal)
    return await respond(session, pipeline, response)
