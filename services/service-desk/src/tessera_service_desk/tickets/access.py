"""Who works tickets, and the service's settings as a request sees them (shared by the ticket and SLA routers)."""

from __future__ import annotations

from fastapi import Request

from tessera_service_desk.settings import ServiceDeskSettings
from tessera_shared.auth import Role

AGENTS = (Role.SUPPORT_AGENT, Role.SERVICE)


def settings_of(request: Request) -> ServiceDeskSettings:
    settings: ServiceDeskSettings = request.app.state.settings
    return settings
