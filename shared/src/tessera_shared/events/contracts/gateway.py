"""Facts published by the gateway on ``crm.gateway`` (key: the API key's or the team's id).

The topic is compacted (tessera_shared.kafka): the latest event of each key is kept for good,
so a process that starts later still learns every key from the topic's beginning. Every event
on it must therefore carry its entity's whole state.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

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


class TeamTerritory(BaseModel):
    """A territory rule of a team: new customers and leads whose country (ISO 3166-1 alpha-2)
    and, when given, region match are routed to the team. ``None`` matches any value."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    country: str | None = None
    region: str | None = None


class TeamState(GatewayEvent):
    """A team's whole state (every ``team.*`` event carries it: the topic is compacted and
    keyed by the team id, so the last event of a team is all a late reader needs)."""

    team_id: uuid.UUID
    # A slug, unique among teams (e.g. "sales-north").
    key: str
    name: str
    # The lead's username; the lead is a member too (``members`` lists them).
    lead: str | None = None
    members: list[str]
    territories: list[TeamTerritory] = Field(default_factory=list)
    # Starts at 1, +1 per change: a reader keeps the highest it has seen.
    version: int
    updated_at: datetime


class TeamCreated(TeamState):
    """A team was created (by an admin or a sales manager)."""

    event_type: ClassVar[str] = "team.created"


class TeamUpdated(TeamState):
    """A team's name, lead, members or territories changed."""

    event_type: ClassVar[str] = "team.updated"


class TeamDeleted(TeamState):
    """A team was deleted: its last state, for readers to forget it (its members stay accounts;
    records that carried its id keep it, but it no longer widens anyone's scope)."""

    event_type: ClassVar[str] = "team.deleted"
