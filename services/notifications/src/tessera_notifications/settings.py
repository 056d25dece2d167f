from typing import Literal

from pydantic import Field, SecretStr
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

    # E-mail (aiosmtplib): the SMTP server, TLS ("none", "starttls" or "tls"), credentials, sender.
    # `make run` starts a local server on 127.0.0.1:8025 that stores each message in .data/mail/.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=8025, ge=1, le=65535)
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout: float = Field(default=10.0, gt=0)
    mail_from: str = "Tessera CRM <notifications@tessera.local>"
    # The right-hand side of every Message-ID.
    mail_domain: str = "tessera.local"
    # A queued message rings the sender job (tessera_shared.jobs): it goes out once the transaction
    # that queued it commits. Every email_job_interval seconds the job also looks for messages due
    # (a retry after its backoff, one a stopped replica left); how many it takes per claim.
    email_job_interval: float = Field(default=5.0, gt=0)
    email_batch_size: int = Field(default=200, ge=1, le=5000)
    # Outcomes recorded together, in one transaction per this many messages sent (1: each alone).
    # A process killed meanwhile sends at most this many again (same Message-IDs).
    email_record_batch: int = Field(default=25, ge=1, le=1000)
    # Retries of a temporary failure: after backoff x 2^(attempt-1) s, at most max_attempts in all.
    email_max_attempts: int = Field(default=5, ge=1, le=20)
    email_backoff_seconds: float = Field(default=30.0, gt=0)
    # An attempt not recorded after this long (its process died) is made again, same Message-ID.
    email_attempt_timeout: float = Field(default=120.0, gt=0)
    # Links in e-mails: the gateway as people reach it.
    public_url: str = "http://127.0.0.1:8000"
    # Signs the customers' unsubscribe links; defaults to the JWT signing key.
    unsubscribe_secret: SecretStr | None = None
    # The daily digest's job interval (one e-mail per user with waiting items per round).
    digest_interval_seconds: float = Field(default=86_400.0, gt=0)
    # The language of e-mails to customers (their locale is not known here).
    customer_locale: Literal["en", "zh"] = "en"

    # Partner webhooks (tessera_notifications.webhooks): the delivery worker in every process.
    webhook_worker_enabled: bool = True
    # Worker loops per process, deliveries claimed per loop and round, requests in flight per process.
    webhook_workers: int = Field(default=4, ge=1, le=64)
    webhook_batch_size: int = Field(default=200, ge=1, le=5000)
    webhook_concurrency: int = Field(default=64, ge=1, le=5000)
    # Without an in-process wake-up (another replica's consumer inserted), how often to look.
    webhook_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    webhook_timeout: float = Field(default=10.0, gt=0, le=60)
    # A claimed delivery whose outcome is not recorded by then (its process died) is claimed again.
    webhook_claim_seconds: float = Field(default=60.0, gt=0)
    # Seconds before the 1st, 2nd, ... retry (the last repeats), each with +-20 % jitter; a delivery
    # failing for webhook_retry_days is given up; an endpoint failing for webhook_disable_after_days
    # is disabled (its owner and the admins told in their inbox).
    webhook_retry_schedule: list[float] = Field(default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0])
    webhook_retry_days: float = Field(default=3.0, gt=0)
    webhook_disable_after_days: float = Field(default=5.0, gt=0)
    # How long the previous secret still signs after a rotation.
    webhook_rotation_hours: float = Field(default=24.0, ge=0)
    # Finished deliveries (and their attempts) are kept this long (the webhooks-retention job, hourly).
    webhook_retention_days: float = Field(default=30.0, gt=0)
    # SSRF: addresses (CIDRs) allowed although private/loopback/...; loopback allowed and plain
    # http accepted by default in local mode only (None: follow the environment).
    webhook_allowed_networks: list[str] = Field(default_factory=list)
    webhook_allow_loopback: bool | None = None
    webhook_require_https: bool | None = None
