"""The services as importable packages, for the project's tools and cross-service tests."""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType
from typing import Any

from tessera_shared.settings import ServiceSettings

SERVICES = ["customer", "sales", "service-desk", "billing", "notifications", "gateway"]


def main_module(service: str) -> ModuleType:
    return importlib.import_module(f"tessera_{service.replace('-', '_')}.main")


def settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"tessera_{service.replace('-', '_')}.settings")
    return next(
        v
        for v in vars(module).values()
        if inspect.isclass(v) and issubclass(v, ServiceSettings) and v is not ServiceSettings
    )


def build_app(service: str, database_url: str = "sqlite+aiosqlite:///:memory:", **overrides: Any) -> Any:
    """The service's app with Kafka and jobs off (for documents and in-process tests)."""
    settings = settings_class(service)(
        **{"database_url": database_url, "kafka_enabled": False, "jobs_enabled": False, "log_json": False, **overrides}
    )
    return main_module(service).create_app(settings)
