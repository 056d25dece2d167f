"""Bulk import of customers: CSV or JSON lines, validated row by row, idempotent on external_id.

One operation per format, each with one request body type, so every generated client gets a
working function for each (openapi-python-client 0.29.1 writes a broken module for a body with
two types, its issue 1451): ``POST /v1/customers/import/csv`` takes ``text/csv``,
``POST /v1/customers/import/ndjson`` takes ``application/x-ndjson``. ``POST /v1/customers/import``,
the path clients used before, keeps working for both by ``Content-Type``; it is documented as
deprecated with its CSV body only (its JSON-lines body is the ndjson operation's).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from tessera_customer.api import SettingsDep
from tessera_customer.imports.body import blocking, text_pieces
from tessera_customer.imports.parsing import read_csv, read_ndjson
from tessera_customer.imports.service import ImportReport, import_customers, valid_rows
from tessera_customer.settings import CustomerSettings
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.http.deprecation import IMPORT_BY_CONTENT_TYPE
from tessera_shared.http.errors import Problem

router = APIRouter(prefix="/v1/customers", tags=["import"])

IMPORT_PATH = "/v1/customers/import"  # deprecated: either format, by Content-Type
CSV_IMPORT_PATH = "/v1/customers/import/csv"
NDJSON_IMPORT_PATH = "/v1/customers/import/ndjson"
# The routes that take the import's large bodies (the app's body_limits; the gateway has its own copy).
IMPORT_PATHS = (IMPORT_PATH, CSV_IMPORT_PATH, NDJSON_IMPORT_PATH)
CSV_TYPES = frozenset({"text/csv"})
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/jsonlines"})

ImportRoles = Annotated[Principal, require_roles(Role.SALES_MANAGER, Role.SERVICE)]


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


def _body_doc(media_type: str, example: str) -> dict[str, Any]:
    """The file as it is, one type (a binary string: openapi-generator makes it a file argument;
    for openapi-python-client map the type to application/octet-stream in content_type_overrides)."""
    return {
        "requestBody": {
            "required": True,
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}, "example": example}},
        }
    }


CSV_EXAMPLE = (
    "external_id,kind,name,email,tags,country,attr.segment\n"
    "crm-1,person,Ada Lovelace,ada@example.com,vip;newsletter,GB,b2c\n"
)
NDJSON_EXAMPLE = '{"external_id": "crm-1", "kind": "person", "name": "Ada Lovelace"}\n'


def _media_type(request: Request, accepted: frozenset[str], expected: str) -> str:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in accepted:
        raise Problem(415, f"send {expected}, not {media_type or 'nothing'}", slug="unsupported-media-type")
    return media_type


async def _import(request: Request, settings: CustomerSettings, *, is_csv: bool) -> ImportOut:
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


@router.post(
    "/import/csv",
    response_model=ImportOut,
    openapi_extra=_body_doc("text/csv", CSV_EXAMPLE),
    summary="Bulk import customers from CSV (idempotent on external_id)",
)
async def import_customers_csv(request: Request, settings: SettingsDep, _: ImportRoles) -> ImportOut:
    _media_type(request, CSV_TYPES, "text/csv")
    return await _import(request, settings, is_csv=True)


@router.post(
    "/import/ndjson",
    response_model=ImportOut,
    openapi_extra=_body_doc("application/x-ndjson", NDJSON_EXAMPLE),
    summary="Bulk import customers from JSON lines (idempotent on external_id)",
)
async def import_customers_ndjson(request: Request, settings: SettingsDep, _: ImportRoles) -> ImportOut:
    _media_type(request, NDJSON_TYPES, "application/x-ndjson")
    return await _import(request, settings, is_csv=False)


@router.post(
    "/import",
    response_model=ImportOut,
    openapi_extra=_body_doc("text/csv", CSV_EXAMPLE),
    deprecated=True,
    summary="Bulk import customers from CSV (deprecated: use importCustomersCsv or importCustomersNdjson)",
    description="The path clients used before the import had one operation per format. It still takes"
    " CSV (`text/csv`) and JSON lines (`application/x-ndjson`) by `Content-Type`; new clients use"
    " `POST /v1/customers/import/csv` or `POST /v1/customers/import/ndjson`. Its answers carry"
    " `Deprecation` and `Sunset` (no earlier than 2027-06-30).",
)
async def bulk_import_customers(
    request: Request, response: Response, settings: SettingsDep, _: ImportRoles
) -> ImportOut:
    response.headers.update(IMPORT_BY_CONTENT_TYPE.headers())  # Deprecation, Sunset
    media_type = _media_type(request, CSV_TYPES | NDJSON_TYPES, "text/csv or application/x-ndjson")
    return await _import(request, settings, is_csv=media_type in CSV_TYPES)
