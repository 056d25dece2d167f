"""POST /v1/customers/import: CSV or JSON lines, validated row by row, idempotent on external_id."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel

from tessera_customer.api import SettingsDep
from tessera_customer.imports.body import blocking, text_pieces
from tessera_customer.imports.parsing import read_csv, read_ndjson
from tessera_customer.imports.service import ImportReport, import_customers, valid_rows
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.http.errors import Problem

router = APIRouter(prefix="/v1/customers", tags=["import"])

IMPORT_PATH = "/v1/customers/import"
CSV_TYPES = frozenset({"text/csv"})
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/jsonlines"})


class RowErrorOut(BaseModel):
    line: int
    field: str
    message: str


class ImportOut(BaseModel):
    received: int
    created: int
    existing: int
    failed: int
    errors: list[RowErrorOut]
    errors_truncated: bool


# The file as it is (a binary string: openapi-generator makes it a file argument; for
# openapi-python-client map both types to application/octet-stream in content_type_overrides).
_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string", "format": "binary"},
                "example": "external_id,kind,name,email,tags,country,attr.segment\n"
                "crm-1,person,Ada Lovelace,ada@example.com,vip;newsletter,GB,b2c\n",
            },
            "application/x-ndjson": {
                "schema": {"type": "string", "format": "binary"},
                "example": '{"external_id": "crm-1", "kind": "person", "name": "Ada Lovelace"}\n',
            },
        },
    },
}


@router.post(
    "/import",
    response_model=ImportOut,
    openapi_extra=_BODY_DOC,
    summary="Bulk import customers from CSV or JSON lines (idempotent on external_id)",
)
async def bulk_import_customers(
    request: Request,
    settings: SettingsDep,
    _: Annotated[Principal, require_roles(Role.SALES_MANAGER, Role.SERVICE)],
) -> ImportOut:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in CSV_TYPES | NDJSON_TYPES:
        raise Problem(
            415, f"send text/csv or application/x-ndjson, not {media_type or 'nothing'}", slug="unsupported-media-type"
        )
    is_csv = media_type in CSV_TYPES
    report = ImportReport()
    # Streamed: rows are parsed as the body arrives (the route's size limit still counts every chunk).
    text = blocking(text_pieces(request.stream()), asyncio.get_running_loop())
    rows = read_csv(text) if is_csv else read_ndjson(text)
    valid = valid_rows(rows, report, csv_columns=is_csv)
    await import_customers(request.app.state.runtime.sessions, valid, report, settings.import_batch_size)
    return ImportOut(
        received=report.received,
        created=report.created,
        existing=report.existing,
        failed=report.failed,
        errors=[RowErrorOut(**e.__dict__) for e in report.errors],
        errors_truncated=report.errors_truncated,
    )
