"""Composition root of the billing service."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx
from fastapi import FastAPI

from tessera_billing import all_models as _all_models  # noqa: F401 - registers every table
from tessera_billing.batch import router as batch_router
from tessera_billing.credit.router import router as credit_router
from tessera_billing.dunning.handlers import on_ticket_closed, on_ticket_opened
from tessera_billing.dunning.router import router as dunning_router
from tessera_billing.dunning.service import run_overdue
from tessera_billing.exports.models import EXPORTS
from tessera_billing.exports.sources import SOURCES as EXPORT_SOURCES
from tessera_billing.invoices.handlers import deal_won_handler, parked_deal_wins
from tessera_billing.invoices.router import router as invoices_router
from tessera_billing.invoices.search import router as invoices_search_router
from tessera_billing.known_customers import handlers as known_customers
from tessera_billing.loyalty import handlers as loyalty
from tessera_billing.loyalty.router import router as loyalty_router
from tessera_billing.models import metadata
from tessera_billing.payments.router import router as payments_router
from tessera_billing.rates.router import router as rates_router
from tessera_billing.receivables.router import router as receivables_router
from tessera_billing.reports.router import router as reports_router
from tessera_billing.settings import BillingSettings
from tessera_billing.writeoffs.router import router as writeoffs_router
from tessera_shared.app import ServiceSpec, create_service_app
from tessera_shared.customer_directory import HttpCustomerDirectory
from tessera_shared.events.contracts import (
    CustomerCreated,
    CustomerErased,
    CustomerMerged,
    CustomerUpdated,
    DealWon,
    LoyaltyLevelChanged,
    LoyaltyPointsRedeemed,
    LoyaltyRedemptionRefused,
    TicketClosed,
    TicketOpened,
)
from tessera_shared.exports.router import exports_router
from tessera_shared.exports.service import exports_job
from tessera_shared.jobs import Job


def spec(settings: BillingSettings) -> ServiceSpec:
    return ServiceSpec(
        metadata=metadata,
        name="billing",
        title="Tessera billing service",
        description="Invoices, payments, credit control, overdue and dunning, ageing, write-offs.",
        routers=[
            batch_router,
            dunning_router,
            invoices_search_router,
            invoices_router,
            payments_router,
            credit_router,
            rates_router,
            reports_router,
            writeoffs_router,
            receivables_router,
            loyalty_router,
            exports_router(EXPORTS, EXPORT_SOURCES),
        ],
        migrations=Path(__file__).parent / "migrations",
        handlers={
            CustomerCreated.event_type: known_customers.created_handler(settings, parked_deal_wins(settings)),
            CustomerUpdated.event_type: known_customers.on_customer_updated,
            CustomerMerged.event_type: known_customers.on_customer_merged,
            CustomerErased.event_type: known_customers.on_customer_erased,
            DealWon.event_type: deal_won_handler(settings),
            TicketOpened.event_type: on_ticket_opened,
            TicketClosed.event_type: on_ticket_closed,
            LoyaltyLevelChanged.event_type: loyalty.on_level_changed,
            LoyaltyPointsRedeemed.event_type: loyalty.on_points_redeemed,
            LoyaltyRedemptionRefused.event_type: loyalty.on_redemption_refused,
        },
        consumes=["customer", "sales", "service-desk"],
        jobs=[
            Job(
                "billing-overdue",
                settings.overdue_job_interval_seconds,
                lambda sessions, now: run_overdue(sessions, now.date(), settings),
            ),
            exports_job("billing", settings, EXPORTS, EXPORT_SOURCES),
        ],
    )


def create_app(
    settings: BillingSettings | None = None, *, mounts: Mapping[str, httpx.AsyncBaseTransport] | None = None
) -> FastAPI:
    """``mounts`` routes upstream URLs (customer service, gateway) to in-process apps in tests."""
    settings = settings or BillingSettings()
    app = create_service_app(spec(settings), settings)
    app.state.customer_directory = HttpCustomerDirectory(settings, mounts)
    return app
