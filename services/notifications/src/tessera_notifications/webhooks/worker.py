"""The delivery worker for as long as the app runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tessera_notifications.webhooks.engine import WebhookEngine


@asynccontextmanager
async def webhooks_running(app: FastAPI) -> AsyncIterator[None]:
    """The delivery worker for as long as the app runs (``ServiceSpec.context``)."""
    settings = app.state.settings
    engine = WebhookEngine(app.state.runtime.sessions, settings, app.state.user_directory)
    app.state.webhooks = engine
    if settings.webhook_worker_enabled:
        engine.start()
    try:
        yield
    finally:
        await engine.stop()
