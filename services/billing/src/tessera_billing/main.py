"""Composition root of the billing service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from tessera_billing.credit.handlers import customer_created_handler
from tessera_billing.credit.router import router as credit_router
from tessera_billing.settings import BillingSettings
from tessera_shared.app import ServiceSpec, create_service_app
from tessera_shared.events.contracts import CustomerCreated


def spec(settings: BillingSettings) -> ServiceSpec:
    return ServiceSpec(
        name="billing",
        title="Tessera billing service",
        description="Invoices, payments, credit control, overdue and dunning, ageing, write-offs.",
        routers=[credit_router],
        migrations=Path(__file__).parent / "migrations",
        handlers={CustomerCreated.event_type: customer_created_handler(settings)},
        consumes=["customer", "sales", "service-desk"],
    )


def create_app(settings: BillingSettings | None = None) -> FastAPI:
    settings = settings or BillingSettings()
    return create_service_app(spec(settings), settings)
