from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tessera_shared.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TESSERA_NOTIFICATIONS_", extra="ignore", frozen=True)

    service_name: str = "notifications"
    port: int = 8005
    database_url: str = "sqlite+aiosqlite:///./.data/notifications.db"

    # The staff who receive notifications: the gateway's accounts document (the same JSON entries,
    # ``password_hash`` ignored) with what notifications needs beside it:
    # [{"username", "roles": [...], "kind": "user", "email", "locale": "en"|"zh", "teams": [...],
    #   "lead_of": [...]}]. Clients (kind "client") receive nothing. Empty in local mode: the local
    # accounts (directory.LOCAL_USERS). See the README, "Who the users are".
    users_json: str = "[]"
    # ticket.escalated at level n goes to the members of the n-th team (the desk's escalation_groups).
    escalation_teams: list[str] = Field(default_factory=lambda: ["tier2", "tier3", "management"])
    # Live push (GET /v1/notifications/stream): how often a stream looks for new rows, and how
    # often it sends a comment line when there is nothing to say.
    stream_poll_seconds: float = Field(default=0.2, gt=0, le=5)
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    # A stream ends after this long; the client reconnects with Last-Event-ID (told to wait 1 s) and
    # misses nothing. Bounds how long one connection holds a worker's slot behind proxies.
    stream_max_seconds: float = Field(default=300.0, gt=0, le=3600)
