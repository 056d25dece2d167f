"""Composition root of the customer service."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tessera_customer import all_models  # noqa: F401 - every table in the metadata
from tessera_customer.batch import routers as batch_routers
from tessera_customer.contacts.router import router as contacts_router
from tessera_customer.custom_fields import router as custom_fields_router
from tessera_customer.customers.read import FAST_GET
from tessera_customer.customers.router import router as customers_router
from tessera_customer.customers.search import router as customers_search_router
from tessera_customer.dedup.router import router as dedup_router
from tessera_customer.exports.models import EXPORTS
from tessera_customer.exports.sources import SOURCES as EXPORT_SOURCES
from tessera_customer.handlers import handlers
from tessera_customer.imports.router import IMPORT_PATHS
from tessera_customer.imports.router import router as import_router
from tessera_customer.lifecycle.router import router as lifecycle_router
from tessera_customer.lifecycle.service import churn_customers
from tessera_customer.loyalty.router import router as loyalty_router
from tessera_customer.pool.router import router as pool_router
from tessera_customer.pool.service import return_to_pool
from tessera_customer.privacy.router import router as privacy_router
from tessera_customer.reports.router import router as reports_router
from tessera_customer.segments.router import router as segments_router
from tessera_customer.settings import CustomerSettings
from tessera_customer.summary.router import router as summary_router
from tessera_customer.tags import router as customers_tags_router
from tessera_customer.teams import KNOWN_TEAMS
from tessera_customer.timeline.router import router as timeline_router
from tessera_customer.transfers import TRANSFERS
from tessera_customer.value.router import router as value_router
from tessera_customer.value.service import recompute_values
from tessera_shared.app import ServiceSpec, create_service_app
from tessera_shared.exports.router import exports_router
from tessera_shared.exports.service import exports_job
from tessera_shared.jobs import Job
from tessera_shared.ownership.router import ownership_router
from tessera_shared.ownership.service import ownership_job


def jobs(settings: CustomerSettings) -> list[Job]:
    async def churn(sessions: async_sessionmaker[AsyncSession], now: datetime) -> object:
        return await churn_customers(sessions, settings, now)

    async def value(sessions: async_sessionmaker[AsyncSession], now: datetime) -> object:
        return await recompute_values(sessions, settings, now)

    async def pool(sessions: async_sessionmaker[AsyncSession], now: datetime) -> object:
        return await return_to_pool(sessions, settings, now)

    return [
        exports_job("customer", settings, EXPORTS, EXPORT_SOURCES),
        ownership_job("customer", TRANSFERS),
        Job("customer-churn-window", settings.churn_job_interval_seconds, churn),
        Job("customer-value-recompute", settings.value_job_interval_seconds, value),
        Job("customer-pool-return", settings.pool_job_interval_seconds, pool),
    ]


def spec(settings: CustomerSettings | None = None) -> ServiceSpec:
    settings = settings or CustomerSettings()
    return ServiceSpec(
        body_limits={("POST", path): settings.import_max_body_bytes for path in IMPORT_PATHS},
        name="customer",
        title="Tessera customer service",
        description="Customers, contacts, lifecycle, value, segments, consent, dedup, loyalty, churn.",
        # Fixed paths (/duplicates, /win-back, ...) before /{customer_id} so they are not taken for ids.
        routers=[
            *batch_routers,
            customers_tags_router,
            custom_fields_router,
            reports_router,
            dedup_router,
            value_router,
            lifecycle_router,
            pool_router,
            import_router,
            customers_search_router,
            customers_router,
            contacts_router,
            timeline_router,
            loyalty_router,
            privacy_router,
            segments_router,
            summary_router,
            exports_router(EXPORTS, EXPORT_SOURCES),
            ownership_router(TRANSFERS),
        ],
        migrations=Path(__file__).parent / "migrations",
        handlers={**handlers(settings), **KNOWN_TEAMS.handlers()},
        consumes=["sales", "service-desk", "billing", "notifications", "gateway"],
        jobs=jobs(settings),
        fast_reads=[FAST_GET],
    )


def create_app(settings: CustomerSettings | None = None) -> FastAPI:
    settings = settings or CustomerSettings()
    return create_service_app(spec(settings), settings)
