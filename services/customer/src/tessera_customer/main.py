"""Composition root of the customer service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from tessera_customer.customers.router import router as customers_router
from tessera_customer.settings import CustomerSettings
from tessera_shared.app import ServiceSpec, create_service_app


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="customer",
        title="Tessera customer service",
        description="Customers, contacts, lifecycle, value, segments, consent, dedup, loyalty, churn.",
        routers=[customers_router],
        migrations=Path(__file__).parent / "migrations",
    )


def create_app(settings: CustomerSettings | None = None) -> FastAPI:
    return create_service_app(spec(), settings or CustomerSettings())
