"""Composition root of the sales and marketing service."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_sales.activities import handlers as collections
from tessera_sales.activities.router import router as activities_router
from tessera_sales.activities.service import fire_reminders
from tessera_sales.batch import routers as batch_routers
from tessera_sales.campaigns import handlers as campaign_consents
from tessera_sales.campaigns.router import router as campaigns_router
from tessera_sales.catalog.router import router as products_router
from tessera_sales.credit import handlers as credit
from tessera_sales.credit.router import router as credit_checks_router
from tessera_sales.custom_fields import CUSTOM_FIELDS
from tessera_sales.custom_fields import router as custom_fields_router
from tessera_sales.deals.router import router as deals_router
from tessera_sales.deals.search import router as deals_search_router
from tessera_sales.exports.models import EXPORTS
from tessera_sales.exports.sources import SOURCES as EXPORT_SOURCES
from tessera_sales.imports import IMPORT_PATHS
from tessera_sales.imports import routers as import_routers
from tessera_sales.known_customers import handlers as known_customers
from tessera_sales.leads.router import router as leads_router
from tessera_sales.leads.search import router as leads_search_router
from tessera_sales.models import metadata
from tessera_sales.pipelines.router import router as pipelines_router
from tessera_sales.recommendations.router import router as recommendations_router
from tessera_sales.reports.router import router as reports_router
from tessera_sales.settings import SalesSettings
from tessera_sales.summary.router import router as summary_router
from tessera_sales.tagging import routers as tagging_routers
from tessera_sales.teams import KNOWN_TEAMS
from tessera_sales.transfers import TRANSFERS
from tessera_shared.app import ServiceSpec, create_service_app
from tessera_shared.consumer import Handler
from tessera_shared.customer_directory import HttpCustomerDirectory
from tessera_shared.events import CloudEvent, EventData
from tessera_shared.events.contracts import (
    CreditExposureChanged,
    CustomerConsentChanged,
    CustomerCreated,
    CustomerErased,
    CustomerMerged,
    CustomerUpdated,
    DunningStep,
    ExchangeRateSet,
    InvoiceOverdue,
    InvoicePaid,
    InvoiceWrittenOff,
    PaymentReceived,
)
from tessera_shared.exports.router import exports_router
from tessera_shared.exports.service import exports_job
from tessera_shared.imports.http import MAX_BODY_BYTES as IMPORT_MAX_BODY_BYTES
from tessera_shared.jobs import Job
from tessera_shared.ownership.router import ownership_router
from tessera_shared.ownership.service import ownership_job


def chain(*handlers: Handler) -> Handler:
    """Several reactions to one event, in one transaction (the inbox sees one effect)."""

    async def run(session: AsyncSession, event: CloudEvent, data: EventData) -> None:
        for handler in handlers:
            await handler(session, event, data)

    return run


def spec(settings: SalesSettings | None = None) -> ServiceSpec:
    settings = settings or SalesSettings()

    return ServiceSpec(
        metadata=metadata,
        body_limits={("POST", path): IMPORT_MAX_BODY_BYTES for path in IMPORT_PATHS},
        name="sales",
        title="Tessera sales and marketing service",
        description="Leads, deals and pipeline, activities, forecast and funnel, campaigns and ROI.",
        routers=[
            *batch_routers,
            *import_routers,
            *tagging_routers,
            products_router,
            deals_search_router,
            deals_router,
            credit_checks_router,
            leads_search_router,
            leads_router,
            activities_router,
            reports_router,
            pipelines_router,
            campaigns_router,
            recommendations_router,
            summary_router,
            custom_fields_router,
            exports_router(EXPORTS, EXPORT_SOURCES),
            ownership_router(TRANSFERS),
        ],
        migrations=Path(__file__).parent / "migrations",
        handlers={
            **KNOWN_TEAMS.handlers(),
            CustomerCreated.event_type: known_customers.on_customer_created,
            CustomerUpdated.event_type: known_customers.on_customer_updated,
            CustomerMerged.event_type: chain(known_customers.on_customer_merged, campaign_consents.on_customer_merged),
            # The copy is marked erased first, so the memberships' check sees it.
            CustomerErased.event_type: chain(known_customers.on_customer_erased, campaign_consents.on_customer_erased),
            CustomerConsentChanged.event_type: campaign_consents.on_consent_changed,
            # The hold is recorded first, so the collection task can find the invoice's deal.
            InvoiceOverdue.event_type: chain(credit.on_invoice_overdue, collections.on_invoice_overdue),
            DunningStep.event_type: collections.on_dunning_step,
            InvoicePaid.event_type: credit.on_invoice_paid,
            InvoiceWrittenOff.event_type: credit.on_invoice_written_off,
            PaymentReceived.event_type: credit.on_payment_received,
            CreditExposureChanged.event_type: credit.on_credit_exposure_changed,
            ExchangeRateSet.event_type: credit.on_exchange_rate_set,
        },
        consumes=["customer", "billing", "gateway"],
        jobs=[
            Job("activity-reminders", settings.reminder_interval_seconds, fire_reminders),
            exports_job("sales", settings, EXPORTS, EXPORT_SOURCES),
            CUSTOM_FIELDS.index_job("sales"),  # a field whose index is missing (a replica stopped)
            ownership_job("sales", TRANSFERS),
        ],
    )


def create_app(
    settings: SalesSettings | None = None, *, mounts: Mapping[str, httpx.AsyncBaseTransport] | None = None
) -> FastAPI:
    """``mounts`` routes upstream URLs (customer service, gateway) to in-process apps in tests."""
    settings = settings or SalesSettings()
    app = create_service_app(spec(settings), settings)
    app.state.customer_directory = HttpCustomerDirectory(settings, mounts)
    return app
