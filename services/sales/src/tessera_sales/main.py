"""Composition root of the sales and marketing service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from tessera_sales.directory.handlers import on_customer_created
from tessera_sales.settings import SalesSettings
from tessera_shared.app import ServiceSpec, create_service_app
from tessera_shared.events.contracts import CustomerCreated


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="sales",
        title="Tessera sales and marketing service",
        description="Leads, deals and pipeline, activities, forecast and funnel, campaigns and ROI.",
        routers=[],
        migrations=Path(__file__).parent / "migrations",
        handlers={CustomerCreated.event_type: on_customer_created},
        consumes=["customer", "billing"],
    )


def create_app(settings: SalesSettings | None = None) -> FastAPI:
    return create_service_app(spec(), settings or SalesSettings())
