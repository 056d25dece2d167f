"""Bulk import of deals and leads the way customers are imported (tessera_shared.imports): CSV or
JSON lines, each row validated by the create schema plus its ``external_id`` (idempotent on it),
created through the single write's use case in a savepoint (same rules, same events, once per
created record), every refused row named by line and field.

``POST /v1/deals/import/csv`` / ``/import/ndjson`` and ``POST /v1/leads/import/csv`` /
``/import/ndjson``: sellers (a rep's rows are the rep's own; naming another owner is refused for
that row, as a single create is). A deal's line items come in JSON lines only. The customers the
deals name are read through the customer service before each batch's transaction (§10.2).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, StringConstraints

from tessera_sales.api import SELLERS
from tessera_sales.deals import service as deals
from tessera_sales.deals.models import Deal
from tessera_sales.deals.schemas import DealCreate
from tessera_sales.known_customers.handlers import KNOWN_CUSTOMERS
from tessera_sales.leads import service as leads
from tessera_sales.leads.models import Lead
from tessera_sales.leads.schemas import LeadCreate
from tessera_sales.settings import SalesSettings
from tessera_shared.auth import Principal, require_roles
from tessera_shared.errors import DomainError, Forbidden, InvalidInput
from tessera_shared.imports.batches import Row, one_by_one, row_errors
from tessera_shared.imports.http import (
    BATCH_SIZE,
    CSV_TYPES,
    NDJSON_TYPES,
    ImportOut,
    RowErrorOut,
    body_doc,
    media_type,
    run_import,
    schema_validator,
)
from tessera_shared.imports.parsing import CsvShape, RowError, model_shape
from tessera_shared.known_customers import ReadThrough

ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class SalesImportRowError(RowErrorOut):
    """A refused row (the customer import's RowErrorOut, named apart: generated clients of the
    gateway's merged document need each model name once)."""


class SalesImportOut(ImportOut):
    errors: list[SalesImportRowError]  # type: ignore[assignment]


class DealImportRow(DealCreate):
    external_id: ExternalId | None = None


class LeadImportRow(LeadCreate):
    external_id: ExternalId | None = None


Create = Callable[[Any, Principal, SalesSettings, Any], Awaitable[Any]]


async def _create_deal(session: Any, principal: Principal, settings: SalesSettings, data: Any) -> Any:
    deal, _ = await deals.create_deal(session, data, principal, settings.large_deal_thresholds)
    return deal


async def _create_lead(session: Any, principal: Principal, _: SalesSettings, data: Any) -> Any:
    return await leads.create_lead(session, data, principal)


@dataclass(frozen=True)
class Importable:
    plural: str
    row_model: type[BaseModel]
    create_model: type[BaseModel]
    external_id: Any
    create: Create
    shape: CsvShape
    csv_example: str
    ndjson_example: str
    reads_customers: bool


DEALS = Importable(
    "deals",
    DealImportRow,
    DealCreate,
    Deal.__table__.c.external_id,
    _create_deal,
    model_shape(DealImportRow, ("customer_id", "title", "currency")),
    "external_id,customer_id,title,amount,currency,stage,probability\n"
    "erp-1,0193c4d0-0000-7000-8000-000000000001,Pumps for Acme,1200.00,EUR,proposal,50\n",
    '{"external_id": "erp-1", "customer_id": "0193c4d0-0000-7000-8000-000000000001", "title": "Pumps",'
    ' "currency": "EUR", "line_items": [{"description": "Pump", "quantity": "2", "unit_price": "600.00"}]}\n',
    True,
)
LEADS = Importable(
    "leads",
    LeadImportRow,
    LeadCreate,
    Lead.__table__.c.external_id,
    _create_lead,
    model_shape(LeadImportRow, ("name", "source")),
    "external_id,name,company,email,source\nweb-1,Grace Hopper,Navy Labs,grace@example.com,web_form\n",
    '{"external_id": "web-1", "name": "Grace Hopper", "source": "web_form"}\n',
    False,
)


def _store(what: Importable, request: Request, principal: Principal) -> Any:
    settings: SalesSettings = request.app.state.settings
    read_through = ReadThrough(
        KNOWN_CUSTOMERS, request.app.state.runtime.sessions, request.app.state.customer_directory
    )
    checked: dict[uuid.UUID, DomainError | None] = {}  # customers read through, for the whole file

    async def check(batch: list[Row[Any]]) -> dict[int, list[RowError]]:
        refused: dict[int, list[RowError]] = {}
        if not what.reads_customers:
            return refused
        for row in batch:
            customer_id = row.data.customer_id
            if customer_id not in checked:
                try:
                    await read_through(customer_id)
                    checked[customer_id] = None
                except DomainError as exc:
                    checked[customer_id] = exc
            if (problem := checked[customer_id]) is not None:
                refused[row.line] = row_errors(row.line, problem)
        return refused

    async def create(session: Any, row: Row[Any]) -> None:
        data = what.create_model.model_validate(row.data.model_dump(exclude={"external_id"}))
        try:
            record = await what.create(session, principal, settings, data)
        except Forbidden as exc:  # the owner rule: this row names an owner its importer may not
            raise InvalidInput("owner_id", exc.detail) from exc
        record.external_id = row.data.external_id
        await session.flush()

    return one_by_one(what.external_id, create, check)


def import_router(what: Importable) -> APIRouter:
    router = APIRouter(prefix=f"/v1/{what.plural}", tags=["import"])
    sellers = require_roles(*SELLERS)
    validate_row = schema_validator(what.row_model, what.shape)

    async def run(request: Request, principal: Principal, is_csv: bool) -> SalesImportOut:
        out = await run_import(
            request,
            is_csv=is_csv,
            shape=what.shape,
            validate_row=validate_row,
            store=_store(what, request, principal),
            batch_size=BATCH_SIZE,
        )
        return SalesImportOut.model_validate(out.model_dump())

    @router.post(
        "/import/csv",
        response_model=SalesImportOut,
        openapi_extra=body_doc("text/csv", what.csv_example),
        summary=f"Bulk import {what.plural} from CSV (idempotent on external_id)",
        name=f"import_{what.plural}_csv",
    )
    async def import_csv(request: Request, principal: Principal = sellers) -> SalesImportOut:
        media_type(request, CSV_TYPES, "text/csv")
        return await run(request, principal, True)

    @router.post(
        "/import/ndjson",
        response_model=SalesImportOut,
        openapi_extra=body_doc("application/x-ndjson", what.ndjson_example),
        summary=f"Bulk import {what.plural} from JSON lines (idempotent on external_id)",
        name=f"import_{what.plural}_ndjson",
    )
    async def import_ndjson(request: Request, principal: Principal = sellers) -> SalesImportOut:
        media_type(request, NDJSON_TYPES, "application/x-ndjson")
        return await run(request, principal, False)

    return router


IMPORT_PATHS = tuple(f"/v1/{w.plural}/import/{fmt}" for w in (DEALS, LEADS) for fmt in ("csv", "ndjson"))
routers = [import_router(DEALS), import_router(LEADS)]
