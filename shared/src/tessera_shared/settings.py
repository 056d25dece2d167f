"""Configuration from the environment, one prefix per service (e.g. ``TESSERA_CUSTOMER_``)."""

from __future__ import annotations

import os
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from tessera_shared.db.engines import SessionLimits

# Passwords that ship in examples and images; refused outside local mode.
DEFAULT_PASSWORDS = frozenset({"local", "password", "postgres", "tessera", "changeme", "change-me", "secret", "admin"})

# Known only so that it can be refused outside local mode.
LOCAL_SIGNING_KEY = "tessera-local-signing-key-do-not-use-in-production"


class ServiceSettings(BaseSettings):
    """Settings every service shares; a service subclasses it and sets ``env_prefix``."""

    # Secrets may also come from files (Docker/Kubernetes secrets), one file per setting named
    # like the variable, e.g. /run/secrets/TESSERA_CUSTOMER_JWT_SIGNING_KEY.
    model_config = SettingsConfigDict(
        env_prefix="TESSERA_", extra="ignore", frozen=True, secrets_dir=os.environ.get("TESSERA_SECRETS_DIR")
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then secret files: no ``.env`` file is read (none is
        configured, and the dotenv source still analysed every field: 1.8 vs 1.0 ms a build)."""
        return init_settings, env_settings, file_secret_settings

    service_name: str = "service"
    environment: Literal["local", "test", "production"] = "local"
    host: str = "127.0.0.1"
    port: int = 8000

    database_url: str = "sqlite+aiosqlite:///./.data/service.db"
    database_pool_size: int = 20
    database_echo: bool = False
    # Every PostgreSQL session's limits (tessera_shared.db.SessionLimits; docs/operations.md,
    # "Leadership and timeouts"); 0 turns one off.
    database_statement_timeout: float = Field(default=30.0, ge=0)
    database_idle_in_transaction_timeout: float = Field(default=60.0, ge=0)
    database_keepalives_idle: int = Field(default=10, ge=1)
    database_keepalives_interval: int = Field(default=5, ge=1)
    database_keepalives_count: int = Field(default=3, ge=1)
    # The outbox relay's and the jobs' leases (tessera_shared.leases): a holder that has not
    # renewed for lease_ttl seconds is replaced; it renews every lease_renew seconds.
    lease_ttl: float = Field(default=5.0, gt=1)
    lease_renew: float = Field(default=1.0, gt=0)

    kafka_bootstrap: str = "127.0.0.1:9092"
    # Prepended to every topic name, so that several environments can share one cluster.
    kafka_topic_namespace: str = ""
    kafka_enabled: bool = True
    kafka_consumer_group: str | None = None
    kafka_partitions: int = 6
    kafka_create_topics: bool = True
    # Consumer-group liveness (docs/operations.md, "Consumer groups and rejoin"): a replica killed
    # without leaving the group is dropped this long after its last heartbeat and its partitions
    # move; the broker's group.min.session.timeout.ms must allow it (if not, the consumer falls back
    # to the broker-safe 10 s). A replica that stops leaves at once, whatever these say.
    kafka_session_timeout_ms: int = Field(default=3_000, ge=1_000)
    kafka_heartbeat_interval_ms: int = Field(default=1_000, ge=100)

    outbox_poll_interval: float = Field(default=0.5, gt=0)
    outbox_batch_size: int = Field(default=500, gt=0, le=10_000)
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_retry_backoff: float = Field(default=0.2, gt=0)

    jwt_signing_key: SecretStr = SecretStr(LOCAL_SIGNING_KEY)
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_public_key: str | None = None
    # Only the gateway signs: the RS256 private key (PEM) and the key id published in its JWKS.
    jwt_private_key: SecretStr | None = None
    jwt_key_id: str = "tessera-1"
    jwt_issuer: str = "tessera-gateway"
    jwt_audience: str = "tessera"
    # The gateway's URL, where tokens come from (sales' service credential, the docs' Authorize).
    gateway_url: str = "http://127.0.0.1:8000"
    # The gateway as a browser reaches it, if not at gateway_url: each service's /docs posts
    # Authorize to <docs_gateway_url or gateway_url>/auth/token (the OAuth2 tokenUrl).
    docs_gateway_url: str | None = None
    # Follow the gateway's revoked access tokens (<gateway_url>/auth/revocations) and refuse them.
    token_revocations: bool = True
    token_revocations_poll_seconds: float = Field(default=2.0, gt=0, le=60)
    # Follow the gateway's user accounts (<gateway_url>/auth/usernames): `user` custom field values
    # must name one (tessera_shared.users; any name passes until the first answer).
    user_directory: bool = True
    user_directory_poll_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Accept the gateway's API keys as bearer tokens, learnt from its facts on crm.gateway
    # (tessera_shared.api_keys; needs Kafka).
    api_keys: bool = True

    jobs_enabled: bool = True
    # Budget for stopping background work after the HTTP server has drained (k8s grace period
    # must cover uvicorn's --timeout-graceful-shutdown plus this).
    shutdown_timeout: float = Field(default=15.0, gt=0, le=300)
    max_body_bytes: int = 1_048_576
    # Request headers larger than this in total get 431 (tessera_shared.http.guard).
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    otel_endpoint: str | None = None
    # Share of new traces recorded (a continued trace follows its parent's decision). Default:
    # all when an exporter is set, none otherwise (trace ids still propagate and reach the logs).
    otel_sample_ratio: float | None = Field(default=None, ge=0, le=1)
    log_level: str = "INFO"
    log_json: bool = True
    run_migrations_on_start: bool = True
    # The cyclic garbage collector (docs/performance.md, round 5). With Python's default (a
    # young-generation pass every 700 net allocations) the objects of requests in flight are
    # promoted and full passes over the ~160k objects made at startup follow: under 32
    # concurrent requests that was ~30% of a service's CPU. 0 keeps Python's default.
    gc_young_threshold: int = Field(default=10_000, ge=0)
    # Move what exists once the service has started (modules, mappers, schemas, routes) out of
    # the collector's passes (gc.freeze); undone at shutdown.
    gc_freeze_after_start: bool = True
    # Plain GETs by id of the routes a service names (ServiceSpec.fast_reads) answered before
    # FastAPI's router (tessera_shared.http.fast_read); off: every GET goes through the router.
    fast_reads: bool = True

    @property
    def is_local(self) -> bool:
        return self.environment == "local"

    @property
    def session_limits(self) -> SessionLimits:
        return SessionLimits(
            statement_timeout=self.database_statement_timeout,
            idle_in_transaction_timeout=self.database_idle_in_transaction_timeout,
            keepalives_idle=self.database_keepalives_idle,
            keepalives_interval=self.database_keepalives_interval,
            keepalives_count=self.database_keepalives_count,
        )

    @property
    def group_id(self) -> str:
        return self.kafka_consumer_group or f"tessera-{self.service_name}"

    @model_validator(mode="after")
    def _refuse_defaults_outside_local(self) -> ServiceSettings:
        if self.environment == "production":
            key = self.jwt_signing_key.get_secret_value()
            if self.jwt_algorithm == "HS256" and (key == LOCAL_SIGNING_KEY or len(key) < 32):
                raise ValueError(
                    "jwt_signing_key: the local default (or a key shorter than 32 characters) "
                    "is refused outside local mode"
                )
            if self.jwt_algorithm == "RS256" and not self.jwt_public_key:
                raise ValueError("jwt_public_key: required for RS256")
            password = urlsplit(self.database_url.replace("+asyncpg", "")).password
            if password is not None and password.lower() in DEFAULT_PASSWORDS:
                raise ValueError("database_url: a default password is refused outside local mode")
        return self
