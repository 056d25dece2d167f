"""The bulk-import endpoints' shared pieces: one operation per format (each with one request body
type, so every generated client gets a working function for each: openapi-python-client 0.29.1
writes a broken module for a body with two types, its issue 1451), the media types, the report."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_shared.http.errors import Problem
from tessera_shared.imports.batches import ImportReport, Row, Store, store_in_batches, valid_rows
from tessera_shared.imports.body import blocking, text_pieces
from tessera_shared.imports.parsing import CsvShape, RowError, json_field, read_csv, read_ndjson, validate

CSV_TYPES = frozenset({"text/csv"})
# The import routes' body limit where a service has no setting of its own (the app's body_limits).
MAX_BODY_BYTES = 64 * 1024 * 1024
BATCH_SIZE = 500
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

    @classmethod
    def of(cls, report: ImportReport) -> ImportOut:
        return cls(
            received=report.received,
            created=report.created,
            existing=report.existing,
            failed=report.failed,
            errors=[RowErrorOut(**e.__dict__) for e in report.errors],
            errors_truncated=report.errors_truncated,
        )


def body_doc(media_type: str, example: str) -> dict[str, Any]:
    """The file as it is, one type (a binary string: openapi-generator makes it a file argument;
    for openapi-python-client map the type to application/octet-stream in content_type_overrides)."""
    return {
        "requestBody": {
            "required": True,
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}, "example": example}},
        }
    }


def media_type(request: Request, accepted: frozenset[str], expected: str) -> str:
    given = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if given not in accepted:
        raise Problem(415, f"send {expected}, not {given or 'nothing'}", slug="unsupported-media-type")
    return given


async def run_import(
    request: Request,
    *,
    is_csv: bool,
    shape: CsvShape,
    validate_row: Callable[[int, dict[str, Any], bool], Any],
    store: Store[Any],
    batch_size: int,
    finish: Callable[[async_sessionmaker[AsyncSession], ImportReport], Awaitable[None]] | None = None,
) -> ImportOut:
    """Parse the body as it arrives (the route's size limit still counts every chunk), validate
    each row, store the valid ones in batches; the report names every refused row by line."""
    report = ImportReport()
    text = blocking(text_pieces(request.stream()), asyncio.get_running_loop())
    rows = read_csv(text, shape) if is_csv else read_ndjson(text)
    valid = valid_rows(rows, report, lambda line, record: validate_row(line, record, is_csv))
    sessions: async_sessionmaker[AsyncSession] = request.app.state.runtime.sessions
    await store_in_batches(sessions, valid, report, batch_size, store)
    if finish is not None:
        await finish(sessions, report)
    return ImportOut.of(report)


def schema_validator(model: Any, shape: CsvShape) -> Callable[[int, dict[str, Any], bool], Any]:
    """Rows through ``model`` (the create schema), errors named as CSV columns or JSON paths."""

    def check(line: int, record: dict[str, Any], is_csv: bool) -> Any | list[RowError]:
        return validate(line, record, model, shape.field_of if is_csv else json_field)

    return check


__all__ = [
    "CSV_TYPES",
    "NDJSON_TYPES",
    "ImportOut",
    "ImportReport",
    "Row",
    "RowErrorOut",
    "body_doc",
    "media_type",
    "run_import",
    "schema_validator",
]
