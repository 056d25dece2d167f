"""Composition root of the service desk."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx
from fastapi import FastAPI

from tessera_service_desk.batch import router as batch_router
from tessera_service_desk.custom_fields import router as custom_fields_router
from tessera_service_desk.exports.models import EXPORTS
from tessera_service_desk.exports.sources import SOURCES as EXPORT_SOURCES
from tessera_service_desk.jobs import desk_jobs
from tessera_service_desk.kb.router import router as kb_router
from tessera_service_desk.kb.search import prepare_search
from tessera_service_desk.known_customers.handlers import (
    on_customer_created,
    on_customer_erased,
    on_customer_merged,
    on_customer_updated,
    tier_changed_handler,
)
from tessera_service_desk.models import metadata
from tessera_service_desk.reports.router import router as reports_router
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_service_desk.sla.router import jobs as sla_jobs_router
from tessera_service_desk.sla.router import policies as sla_policies_router
from tessera_service_desk.summary.router import router as summary_router
from tessera_service_desk.surveys.router import router as surveys_router
from tessera_service_desk.tickets.router import router as tickets_router
from tessera_service_desk.tickets.search import router as tickets_search_router
from tessera_service_desk.tickets.tags import router as tickets_tags_router
from tessera_service_desk.transfers import TRANSFERS
from tessera_shared.app import ServiceSpec, create_service_app
from tessera_shared.customer_directory import HttpCustomerDirectory
from tessera_shared.events.contracts import (
    CustomerCreated,
    CustomerErased,
    CustomerMerged,
    CustomerTierChanged,
    CustomerUpdated,
)
from tessera_shared.exports.router import exports_router
from tessera_shared.exports.service import exports_job
from tessera_shared.ownership.router import ownership_router
from tessera_shared.ownership.service import ownership_job


def spec(settings: ServiceDeskSettings) -> ServiceSpec:
    return ServiceSpec(
        metadata=metadata,
        name="service-desk",
        title="Tessera service desk",
        description="Tickets, SLAs in business hours, escalation, knowledge base, satisfaction surveys.",
        # Fixed paths (/v1/tickets/breach-scan, /reports/...) come before /v1/tickets/{ticket_id}.
        routers=[
            batch_router,
            sla_jobs_router,
            reports_router,
            tickets_search_router,
            tickets_tags_router,
            custom_fields_router,
            tickets_router,
            sla_policies_router,
            surveys_router,
            kb_router,
            summary_router,
            exports_router(EXPORTS, EXPORT_SOURCES),
            ownership_router(TRANSFERS),
        ],
        migrations=Path(__file__).parent / "migrations",
        handlers={
            CustomerCreated.event_type: on_customer_created,
            CustomerUpdated.event_type: on_customer_updated,
            CustomerTierChanged.event_type: tier_changed_handler(settings),
            CustomerMerged.event_type: on_customer_merged,
            CustomerErased.event_type: on_customer_erased,
        },
        # The survey is created in the closing transaction, so the desk needs no reaction to
        # its own ticket.closed: it consumes only the customer service's facts.
        consumes=["customer"],
        on_startup=prepare_search,
        jobs=[
            *desk_jobs(settings),
            exports_job("service-desk", settings, EXPORTS, EXPORT_SOURCES),
            ownership_job("service-desk", TRANSFERS),
        ],
    )


def create_app(
    settings: ServiceDeskSettings | None = None, *, mounts: Mapping[str, httpx.AsyncBaseTransport] | None = None
) -> FastAPI:
    """``mounts`` routes upstream URLs (customer service, gateway) to in-process apps in tests."""
    settings = settings or ServiceDeskSettings()
    app = create_service_app(spec(settings), settings)
    app.state.customer_directory = HttpCustomerDirectory(settings, mounts)
    return app
