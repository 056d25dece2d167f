"""``/v1/exports``: ask for a bulk export (202 with the job), follow it, download its file."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from tessera_shared.auth import Principal, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.exports import formats
from tessera_shared.exports.service import (
    ExportRequest,
    create_export,
    export_id,
    file_chunks,
    load_export,
    parse_export_id,
    ready_file,
)
from tessera_shared.exports.sources import ExportSource
from tessera_shared.exports.tables import ExportTables
from tessera_shared.http.idempotency import IdempotencyDep
from tessera_shared.once import once_per_arguments

# Every resource some service exports (the gateway sends each to its owner, by this name).
Resource = Literal["customers", "contacts", "deals", "leads", "tickets", "invoices"]
ExportIdPath = Annotated[
    str,
    Path(
        min_length=38,
        max_length=60,
        pattern=r"^[a-z]+\.[0-9a-f-]{36}$",
        description="the export's id: its resource and a UUID, e.g. customers.0193...",
    ),
]


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource: Resource
    format: formats.Format = "csv"
    fields: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=100, description="the columns, in order (default: the resource's usual set)"
    )
    filter_groups: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=10,
        description="the resource's search filter groups (as POST /v1/{resource}/search takes them): AND within a"
        " group, OR across groups; the export holds the rows the caller may see that match",
    )


class ExportOut(BaseModel):
    id: str
    resource: str
    format: str
    fields: list[str]
    status: Literal["queued", "running", "succeeded", "failed", "expired"]
    rows_written: int
    rows_total: int | None
    progress: float = Field(description="rows written / rows to write, 0..1 (1 once succeeded)")
    bytes_written: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None
    file_url: str | None = Field(
        description="Where to download the file once succeeded: a path of the public API (the gateway's)"
    )

    @classmethod
    def of(cls, job: Mapping[str, Any]) -> ExportOut:
        public = export_id(job["resource"], job["id"])
        total, written = job["rows_total"], job["rows_written"]
        done = job["status"] == "succeeded"
        progress = 1.0 if done else (min(written / total, 1.0) if total else 0.0)
        return cls(
            id=public,
            resource=job["resource"],
            format=job["format"],
            fields=list(job["fields"]),
            status=job["status"],
            rows_written=written,
            rows_total=total,
            progress=round(progress, 4),
            bytes_written=job["bytes_written"],
            error=job["error"],
            created_at=job["created_at"],
            started_at=job["started_at"],
            finished_at=job["finished_at"],
            expires_at=job["expires_at"],
            file_url=f"/api/v1/exports/{public}/file" if done else None,  # links are the gateway's paths
        )


@once_per_arguments
def exports_router(tables: ExportTables, sources: Mapping[str, ExportSource]) -> APIRouter:
    router = APIRouter(prefix="/v1/exports", tags=["exports"])
    roles = sorted({role for source in sources.values() for role in source.roles})
    requester = require_roles(*roles)

    @router.post(
        "",
        status_code=202,
        response_model=ExportOut,
        summary="Ask for a bulk export (a job: follow it at Location, download its file when it succeeded)",
    )
    async def create_export_job(
        body: ExportIn, session: SessionDep, idem: IdempotencyDep, principal: Principal = requester
    ) -> Response:
        if (replayed := await idem.begin(body)) is not None:
            return replayed  # a retry with the same key: the first job, not a second one
        request = ExportRequest(body.resource, body.format, body.fields, body.filter_groups)
        job = await create_export(session, tables, sources, request, principal)
        out = ExportOut.of(job)
        return await idem.respond(202, out, headers={"Location": f"/v1/exports/{out.id}"})

    @router.get("/{export_id}", response_model=ExportOut, summary="An export's status and progress")
    async def get_export_job(
        export_id: ExportIdPath, session: SessionDep, principal: Principal = requester
    ) -> ExportOut:
        return ExportOut.of(await load_export(session, tables, parse_export_id(export_id, sources), principal))

    @router.get(
        "/{export_id}/file",
        response_class=StreamingResponse,
        summary="The export's file, streamed (409 until it succeeded, or once it expired)",
        responses={
            200: {
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/x-ndjson": {"schema": {"type": "string"}},
                }
            }
        },
    )
    async def get_export_file(
        export_id: ExportIdPath, request: Request, session: SessionDep, principal: Principal = requester
    ) -> StreamingResponse:
        job_id: uuid.UUID = parse_export_id(export_id, sources)
        job = await load_export(session, tables, job_id, principal)
        ready_file(job)
        extension = "csv" if job["format"] == "csv" else "ndjson"
        return StreamingResponse(
            file_chunks(request.app.state.runtime.sessions, tables, job),
            media_type=formats.MEDIA_TYPES[job["format"]],
            headers={
                "Content-Disposition": f'attachment; filename="{job["resource"]}-{job_id}.{extension}"',
                "Content-Length": str(job["bytes_written"]),
            },
        )

    return router
