"""Pipeline use cases: each changes state and records its event in the caller's transaction (flush only).

A deal entering a stage holds a shared lock on its pipeline's row (``stages_of(..., lock=True)``)
and a change of the stages holds an exclusive one, so that a stage is never removed while, in
another process, a deal enters it (PostgreSQL; SQLite runs one writer at a time).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_sales.deals.models import Deal, DealStageChange
from tessera_sales.pipelines import rules
from tessera_sales.pipelines.models import Pipeline, PipelineStage
from tessera_sales.pipelines.schemas import PipelineCreate, PipelinePatch, StageIn
from tessera_shared.auth import Principal
from tessera_shared.db import utcnow
from tessera_shared.errors import Conflict, InvalidInput, NotFound
from tessera_shared.events.contracts import PipelineCreated, PipelineUpdated
from tessera_shared.events.contracts import PipelineStage as StageData
from tessera_shared.outbox import publish


def _defs(rows: list[PipelineStage]) -> list[rules.StageDef]:
    return [
        rules.StageDef(r.key, r.name, r.probability, r.kind, r.archived_at is not None)  # type: ignore[arg-type]
        for r in sorted(rows, key=lambda r: r.position)
    ]


async def _stage_rows(session: AsyncSession, pipeline_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[PipelineStage]]:
    out: dict[uuid.UUID, list[PipelineStage]] = {p: [] for p in pipeline_ids}
    if pipeline_ids:
        rows = await session.execute(
            select(PipelineStage)
            .where(col(PipelineStage.pipeline_id).in_(pipeline_ids))
            .order_by(col(PipelineStage.pipeline_id), col(PipelineStage.position))
        )
        for r in rows.scalars():
            out[r.pipeline_id].append(r)
    return out


async def stages_of(session: AsyncSession, pipeline_id: uuid.UUID, *, lock: bool = False) -> rules.Stages | None:
    """The pipeline's stage machine (None: no such pipeline); ``lock`` holds its row shared until
    the transaction ends (a deal enters one of its stages)."""
    stmt = select(Pipeline).where(col(Pipeline.id) == pipeline_id)
    if lock:
        stmt = stmt.with_for_update(read=True)
    pipeline = (await session.execute(stmt)).scalar_one_or_none()
    if pipeline is None:
        return None
    return stages_from(pipeline, (await _stage_rows(session, [pipeline.id]))[pipeline.id])


def stages_from(pipeline: Pipeline, rows: list[PipelineStage]) -> rules.Stages:
    """The stage machine of a pipeline and its stage rows, already read."""
    return rules.Stages(_defs(rows), pipeline.id, pipeline.name, archived=pipeline.archived_at is not None)


async def stages_for_deal(session: AsyncSession, pipeline_id: uuid.UUID, *, lock: bool = False) -> rules.Stages:
    """The stages of a deal's pipeline (which exists: deals.pipeline_id is a foreign key)."""
    stages = await stages_of(session, pipeline_id, lock=lock)
    if stages is None:
        raise RuntimeError(f"pipeline {pipeline_id} of a deal is missing")
    return stages


async def stages_for_new_deal(session: AsyncSession, pipeline_id: uuid.UUID | None) -> rules.Stages:
    """The pipeline a deal is created in or moved to (the default without one); 422 names ``pipeline_id``."""
    stages = await stages_of(session, pipeline_id or rules.DEFAULT_PIPELINE_ID, lock=True)
    if stages is None:
        raise InvalidInput("pipeline_id", f"no pipeline {pipeline_id}")
    if stages.archived:
        raise InvalidInput("pipeline_id", f"pipeline {stages.pipeline_name!r} is archived")
    return stages


async def stage_names(session: AsyncSession, pipeline_ids: set[uuid.UUID]) -> dict[uuid.UUID, rules.Stages]:
    """The stage machines of several pipelines at once (for lists that show pipeline and stage names)."""
    if not pipeline_ids:
        return {}
    pipelines = (await session.execute(select(Pipeline).where(col(Pipeline.id).in_(pipeline_ids)))).scalars().all()
    rows = await _stage_rows(session, [p.id for p in pipelines])
    return {p.id: rules.Stages(_defs(rows[p.id]), p.id, p.name) for p in pipelines}


async def stage_exists(session: AsyncSession, key: str, pipeline_id: uuid.UUID | None) -> bool:
    """Whether ``pipeline_id`` (any pipeline without one) has a stage ``key``."""
    stmt = select(col(PipelineStage.key)).where(col(PipelineStage.key) == key)
    if pipeline_id is not None:
        stmt = stmt.where(col(PipelineStage.pipeline_id) == pipeline_id)
    return (await session.execute(stmt.limit(1))).first() is not None


async def deals_per_stage(session: AsyncSession, pipeline_ids: list[uuid.UUID]) -> dict[tuple[uuid.UUID, str], int]:
    if not pipeline_ids:
        return {}
    stmt = (
        select(col(Deal.pipeline_id), col(Deal.stage), func.count())
        .where(col(Deal.pipeline_id).in_(pipeline_ids))
        .group_by(col(Deal.pipeline_id), col(Deal.stage))
    )
    return {(p, s): int(n) for p, s, n in await session.execute(stmt)}


async def get_pipeline(session: AsyncSession, pipeline_id: uuid.UUID, *, for_update: bool = False) -> Pipeline:
    stmt = select(Pipeline).where(col(Pipeline.id) == pipeline_id)
    if for_update:
        stmt = stmt.with_for_update()
    pipeline = (await session.execute(stmt)).scalar_one_or_none()
    if pipeline is None:
        raise NotFound("pipeline", pipeline_id)
    return pipeline


async def list_pipelines(session: AsyncSession, *, include_archived: bool) -> list[Pipeline]:
    stmt = select(Pipeline).order_by(col(Pipeline.is_default).desc(), col(Pipeline.name), col(Pipeline.id))
    if not include_archived:
        stmt = stmt.where(col(Pipeline.archived_at).is_(None))
    return list((await session.execute(stmt)).scalars())


async def stages_rows(session: AsyncSession, pipelines: list[Pipeline]) -> dict[uuid.UUID, list[PipelineStage]]:
    return await _stage_rows(session, [p.id for p in pipelines])


def _drafts(stages: list[StageIn]) -> list[rules.Draft]:
    return [rules.Draft(s.key, s.name, s.probability, s.kind, s.archived) for s in stages]


def _stage_data(defs: list[rules.StageDef]) -> list[StageData]:
    return [
        StageData(key=d.key, name=d.name, position=i + 1, probability=d.probability, kind=d.kind, archived=d.archived)
        for i, d in enumerate(defs)
    ]


def _write_stages(
    session: AsyncSession,
    pipeline_id: uuid.UUID,
    defs: list[rules.StageDef],
    existing: dict[str, PipelineStage],
    now: datetime,
) -> None:
    for i, d in enumerate(defs):
        row = existing.get(d.key)
        if row is None:
            row = PipelineStage(pipeline_id=pipeline_id, key=d.key, kind=d.kind, name=d.name, position=0, probability=0)
            session.add(row)
        row.name, row.position, row.probability = d.name, i + 1, d.probability
        if d.archived and row.archived_at is None:
            row.archived_at = now
        elif not d.archived:
            row.archived_at = None


async def create_pipeline(session: AsyncSession, data: PipelineCreate, principal: Principal) -> Pipeline:
    defs = rules.complete(_drafts(data.stages))
    key = data.key or rules.slug(data.name)
    if (await session.execute(select(col(Pipeline.id)).where(col(Pipeline.key) == key))).first() is not None:
        raise Conflict(f"a pipeline with key {key!r} exists", kind="duplicate", field="key")
    now = utcnow()
    pipeline = Pipeline(key=key, name=data.name, created_by=principal.subject, created_at=now, updated_at=now)
    session.add(pipeline)
    await session.flush()
    _write_stages(session, pipeline.id, defs, {}, now)
    await publish(
        session,
        PipelineCreated(
            pipeline_id=pipeline.id,
            key=pipeline.key,
            name=pipeline.name,
            is_default=pipeline.is_default,
            stages=_stage_data(defs),
            version=pipeline.version,
            created_by=principal.subject,
            created_at=now,
        ),
        subject=pipeline.id,
    )
    await session.flush()
    return pipeline


async def _refuse_removal_of_held(session: AsyncSession, pipeline: Pipeline, removed: list[str]) -> None:
    """409 while a removed stage holds deals, naming how many (archiving it is the way out)."""
    if not removed:
        return
    counts = await deals_per_stage(session, [pipeline.id])
    held = {k: counts.get((pipeline.id, k), 0) for k in removed}
    for key, n in held.items():
        if n:
            raise Conflict(
                f"stage {key!r} holds {n} deal{'s' if n != 1 else ''}; move them or archive the stage instead",
                kind="stage-in-use",
                stage=key,
                deals=n,
            )


async def _rerank(session: AsyncSession, pipeline_id: uuid.UUID, before: dict[str, int], after: dict[str, int]) -> None:
    """The funnel ranks follow the stages' order: when it changed (a stage added, moved or removed
    among the open ones), the history's ranks and each deal's furthest rank are counted again, in
    this pipeline, from the stages the deal entered. Two UPDATEs over the pipeline's deals."""
    if before == after:
        return
    rank = case(after, value=col(DealStageChange.to_stage), else_=0)
    await session.execute(
        update(DealStageChange)
        .where(col(DealStageChange.pipeline_id) == pipeline_id)
        .values(to_rank=rank)
        .execution_options(synchronize_session=False)
    )
    furthest = (
        select(func.coalesce(func.max(col(DealStageChange.to_rank)), 0))
        .where(col(DealStageChange.deal_id) == col(Deal.id), col(DealStageChange.pipeline_id) == pipeline_id)
        .scalar_subquery()
    )
    await session.execute(
        update(Deal)
        .where(col(Deal.pipeline_id) == pipeline_id)
        .values(furthest_rank=furthest)
        .execution_options(synchronize_session=False)
    )


async def _changed(
    session: AsyncSession, pipeline: Pipeline, defs: list[rules.StageDef], removed: list[str], principal: Principal
) -> None:
    now = utcnow()
    pipeline.version += 1
    pipeline.updated_at = now
    await publish(
        session,
        PipelineUpdated(
            pipeline_id=pipeline.id,
            key=pipeline.key,
            name=pipeline.name,
            is_default=pipeline.is_default,
            stages=_stage_data(defs),
            removed_stages=removed,
            archived=pipeline.archived_at is not None,
            version=pipeline.version,
            updated_by=principal.subject,
            updated_at=now,
        ),
        subject=pipeline.id,
    )
    await session.flush()


async def update_pipeline(
    session: AsyncSession, pipeline: Pipeline, patch: PipelinePatch, principal: Principal
) -> None:
    """Rename, archive, or give the whole new stage list (``pipeline`` locked by the caller)."""
    given = patch.model_fields_set
    for field in ("name", "stages", "archived"):
        if field in given and getattr(patch, field) is None:
            raise InvalidInput(field, "may not be null")
    rows = (await _stage_rows(session, [pipeline.id]))[pipeline.id]
    existing = {r.key: r for r in rows}
    defs = _defs(rows)
    removed: list[str] = []
    now = utcnow()
    if patch.stages is not None:
        before = rules.Stages(defs).rank
        defs = rules.complete(_drafts(patch.stages), {d.key: d for d in defs})
        removed = [r.key for r in rows if r.key not in {d.key for d in defs}]
        await _refuse_removal_of_held(session, pipeline, removed)
        if removed:
            await session.execute(
                delete(PipelineStage).where(
                    col(PipelineStage.pipeline_id) == pipeline.id, col(PipelineStage.key).in_(removed)
                )
            )
            for key in removed:
                session.expunge(existing.pop(key))
        _write_stages(session, pipeline.id, defs, existing, now)
        await _rerank(session, pipeline.id, before, rules.Stages(defs).rank)
    if patch.name is not None:
        pipeline.name = patch.name
    if patch.archived is not None:
        if patch.archived and pipeline.is_default:
            raise InvalidInput("archived", "the default pipeline cannot be archived")
        pipeline.archived_at = (pipeline.archived_at or now) if patch.archived else None
    await _changed(session, pipeline, defs, removed, principal)


async def remove_stage(session: AsyncSession, pipeline: Pipeline, key: str, principal: Principal) -> None:
    """DELETE of one stage (``pipeline`` locked by the caller): 409 while it holds deals."""
    rows = (await _stage_rows(session, [pipeline.id]))[pipeline.id]
    if key not in {r.key for r in rows}:
        raise NotFound("stage", key)
    # A stage holding deals is refused first, naming how many (whichever stage it is): the answer
    # that says what to do (move them or archive the stage).
    await _refuse_removal_of_held(session, pipeline, [key])
    defs = [d for d in _defs(rows) if d.key != key]
    try:
        rules.check_definition(defs)
    except InvalidInput as exc:
        raise Conflict(f"stage {key!r} cannot be removed: {exc.errors[0]['message']}", kind="stage-required") from None
    await session.execute(
        delete(PipelineStage).where(col(PipelineStage.pipeline_id) == pipeline.id, col(PipelineStage.key) == key)
    )
    for r in rows:
        if r.key == key:
            session.expunge(r)
    _write_stages(session, pipeline.id, defs, {r.key: r for r in rows if r.key != key}, utcnow())
    await _rerank(session, pipeline.id, rules.Stages(_defs(rows)).rank, rules.Stages(defs).rank)
    await _changed(session, pipeline, defs, [key], principal)
