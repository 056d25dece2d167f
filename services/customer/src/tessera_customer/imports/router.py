"""Bulk import of customers: CSV or JSON lines, validated row by row, idempotent on external_id
(the mechanic is tessera_shared.imports; this module is the customer's columns and rules).

One operation per format, each with one request body type: ``POST /v1/customers/import/csv``
takes ``text/csv``, ``POST /v1/customers/import/ndjson`` takes ``application/x-ndjson``.
``POST /v1/customers/import``, the path clients used before, keeps working for both by
``Content-Type``; it is documented as deprecated with its CSV body only (its JSON-lines body is
the ndjson operation's).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response

from tessera_customer.api import SettingsDep
from tessera_customer.imports.parsing import SHAPE, validate
from tessera_customer.imports.service import analyze_after, store_customers
from tessera_customer.settings import CustomerSettings
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.http.deprecation import IMPORT_BY_CONTENT_TYPE
from tessera_shared.imports.http import CSV_TYPES, NDJSON_TYPES, ImportOut, body_doc, media_type, run_import

router = APIRouter(prefix="/v1/customers", tags=["import"])

IMPORT_PATH = "/v1/customers/import"  # deprecated: either format, by Content-Type
CSV_IMPORT_PATH = "/v1/customers/import/csv"
NDJSON_IMPORT_PATH = "/v1/customers/import/ndjson"
# The routes that take the import's large bodies (the app's body_limits; the gateway has its own copy).
IMPORT_PATHS = (IMPORT_PATH, CSV_IMPORT_PATH, NDJSON_IMPORT_PATH)

ImportRoles = Annotated[Principal, require_roles(Role.SALES_MANAGER, Role.SERVICE)]

CSV_EXAMPLE = (
    "external_id,kind,name,email,tags,country,attr.segment\n"
    "crm-1,person,Ada Lovelace,ada@example.com,vip;newsletter,GB,b2c\n"
)
NDJSON_EXAMPLE = '{"external_id": "crm-1", "kind": "person", "name": "Ada Lovelace"}\n'


def _validate(line: int, record: dict[str, Any], is_csv: bool) -> Any:
    return validate(line, record, csv_columns=is_csv)


async def _import(request: Request, settings: CustomerSettings, *, is_csv: bool) -> ImportOut:
    return await run_import(
        request,
        is_csv=is_csv,
        shape=SHAPE,
        validate_row=_validate,
        store=store_customers,
        batch_size=settings.import_batch_size,
        finish=analyze_after,
    )


@router.post(
    "/import/csv",
    response_model=ImportOut,
    openapi_extra=body_doc("text/csv", CSV_EXAMPLE),
    summary="Bulk import customers from CSV (idempotent on external_id)",
)
async def import_customers_csv(request: Request, settings: SettingsDep, _: ImportRoles) -> ImportOut:
    media_type(request, CSV_TYPES, "text/csv")
    return await _import(request, settings, is_csv=True)


@router.post(
    "/import/ndjson",
    response_model=ImportOut,
    openapi_extra=body_doc("application/x-ndjson", NDJSON_EXAMPLE),
    summary="Bulk import customers from JSON lines (idempotent on external_id)",
)
async def import_customers_ndjson(request: Request, settings: SettingsDep, _: ImportRoles) -> ImportOut:
    media_type(request, NDJSON_TYPES, "application/x-ndjson")
    return await _import(request, settings, is_csv=False)


@router.post(
    "/import",
    response_model=ImportOut,
    openapi_extra=body_doc("text/csv", CSV_EXAMPLE),
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
    given = media_type(request, CSV_TYPES | NDJSON_TYPES, "text/csv or application/x-ndjson")
    return await _import(request, settings, is_csv=given in CSV_TYPES)
