"""Composition root of the service desk."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from tessera_service_desk.directory.handlers import on_customer_created
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_shared.app import ServiceSpec, create_service_app
from tessera_shared.events.contracts import CustomerCreated


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="service-desk",
        title="Tessera service desk",
        description="Tickets, SLAs in business hours, escalation, knowledge base, satisfaction surveys.",
        routers=[],
        migrations=Path(__file__).parent / "migrations",
        handlers={CustomerCreated.event_type: on_customer_created},
        consumes=["customer", "service-desk"],
    )


def create_app(settings: ServiceDeskSettings | None = None) -> FastAPI:
    return create_service_app(spec(), settings or ServiceDeskSettings())
