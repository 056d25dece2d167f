"""Facts published by the gateway on ``crm.gateway`` (key: the API key's id).

The topic is compacted (tessera_shared.kafka): the latest event of each key is kept for good,
so a process that starts later still learns every key from the topic's beginning. Every event
on it must therefore carry its entity's whole state.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from tessera_shared.events.envelope import EventData


class GatewayEvent(EventData):
    producer: ClassVar[str] = "gateway"


class ApiKeyCreated(GatewayEvent):
    """An API key was created (by an admin): every service accepts it as a bearer token until
    it expires or is revoked. Carries the key's SHA-256 (hex), never the key itself."""

    event_type: ClassVar[str] = "api_key.created"

    api_key_id: uuid.UUID
    name: str
    # SHA-256 of the whole key ("tsk_..."), lowercase hex.
    key_hash: str
    roles: list[str]
    expires_at: datetime | None = None
    created_by: str
    created_at: datetime


class ApiKeyRevoked(GatewayEvent):
    """An API key was revoked: every service refuses it within seconds. Carries the hash again,
    so that a process that never saw the key's creation (compacted away) still knows it."""

    event_type: ClassVar[str] = "api_key.revoked"

    api_key_id: uuid.UUID
    key_hash: str
    revoked_by: str
    revoked_at: datetime
