"""HTTP helpers shared by the service's routers."""

from __future__ import annotations

from fastapi import Request

from tessera_notifications.directory import UserDirectory
from tessera_notifications.settings import NotificationsSettings
from tessera_shared.auth import STAFF_ROLES

# Who has an inbox and preferences: staff users (a client credential has no inbox).
INBOX_ROLES = tuple(sorted(STAFF_ROLES))


def settings_of(request: Request) -> NotificationsSettings:
    settings: NotificationsSettings = request.app.state.settings
    return settings


def directory_of(request: Request) -> UserDirectory:
    directory: UserDirectory = request.app.state.user_directory
    return directory
