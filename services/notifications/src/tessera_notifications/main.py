"""Composition root of the notifications service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from tessera_notifications import all_models as _all_models  # noqa: F401 - registers the tables
from tessera_notifications.directory import UserDirectory
from tessera_notifications.email.digest import send_digests
from tessera_notifications.email.router import router as unsubscribe_router
from tessera_notifications.email.service import EMAIL_DOORBELL, Mailer, send_due
from tessera_notifications.handlers import CONSUMES, handlers
from tessera_notifications.inbox.router import router as inbox_router
from tessera_notifications.models import metadata
from tessera_notifications.preferences.router import router as preferences_router
from tessera_notifications.routing import Routing
from tessera_notifications.rules.router import router as rules_router
from tessera_notifications.settings import NotificationsSettings
from tessera_notifications.teams import KNOWN_TEAMS
from tessera_notifications.webhooks.deliveries import purge_finished
from tessera_notifications.webhooks.fanout import with_webhooks
from tessera_notifications.webhooks.openapi import describe_webhooks
from tessera_notifications.webhooks.router import router as webhooks_router
from tessera_notifications.webhooks.worker import webhooks_running
from tessera_shared.app import ServiceSpec, create_service_app
from tessera_shared.jobs import Job


def spec(settings: NotificationsSettings, directory: UserDirectory | None = None) -> ServiceSpec:
    directory = directory or directory_of(settings)
    mailer = Mailer(settings)
    return ServiceSpec(
        metadata=metadata,
        name="notifications",
        title="Tessera notifications",
        description="Routing rules, an in-app inbox per user with live push, notification preferences.",
        routers=[inbox_router, preferences_router, rules_router, unsubscribe_router, webhooks_router],
        migrations=Path(__file__).parent / "migrations",
        handlers={**with_webhooks(handlers(Routing(directory, settings))), **KNOWN_TEAMS.handlers()},
        context=webhooks_running,
        consumes=[*CONSUMES, "gateway"],
        jobs=[
            Job(
                "notifications-email",
                settings.email_job_interval,
                lambda sessions, now: send_due(sessions, now, settings, mailer),
                doorbell=EMAIL_DOORBELL,
            ),
            Job(
                "webhooks-retention",
                3600.0,
                lambda sessions, now: purge_finished(sessions, now, settings.webhook_retention_days),
            ),
            Job(
                "notifications-digest",
                settings.digest_interval_seconds,
                lambda sessions, now: send_digests(sessions, now, settings, directory),
            ),
        ],
    )


def directory_of(settings: NotificationsSettings) -> UserDirectory:
    return UserDirectory.from_json(settings.users_json, local=settings.is_local)


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    directory = directory_of(settings)
    app = create_service_app(spec(settings, directory), settings)
    app.state.user_directory = directory
    describe_webhooks(app)
    return app
