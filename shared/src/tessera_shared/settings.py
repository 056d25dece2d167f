"""Configuration from the environment, one prefix per service (e.g. ``TESSERA_CUSTOMER_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Known only so that it can be refused outside local mode.
LOCAL_SIGNING_KEY = "tessera-local-signing-key-do-not-use-in-production"


class ServiceSettings(BaseSettings):
    """Settings every service shares; a service subclasses it and sets ``env_prefix``."""

    model_config = SettingsConfigDict(env_prefix="TESSERA_", extra="ignore", frozen=True)

    service_name: str = "service"
    environment: Literal["local", "test", "production"] = "local"
    host: str = "127.0.0.1"
    port: int = 8000

    database_url: str = "sqlite+aiosqlite:///./.data/service.db"
    database_pool_size: int = 10
    database_echo: bool = False

    kafka_bootstrap: str = "127.0.0.1:9092"
    # Prepended to every topic name, so that several environments can share one cluster.
    kafka_topic_namespace: str = ""
    kafka_enabled: bool = True
    kafka_consumer_group: str | None = None
    kafka_partitions: int = 6
    kafka_create_topics: bool = True

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

    jobs_enabled: bool = True
    max_body_bytes: int = 1_048_576
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    otel_endpoint: str | None = None
    log_level: str = "INFO"
    log_json: bool = True
    run_migrations_on_start: bool = True

    @property
    def is_local(self) -> bool:
        return self.environment == "local"

    @property
    def group_id(self) -> str:
        return self.kafka_consumer_group or f"tessera-{self.service_name}"

    @model_validator(mode="after")
    def _refuse_defaults_outside_local(self) -> "ServiceSettings":
        if self.environment == "production":
            key = self.jwt_signing_key.get_secret_value()
            if self.jwt_algorithm == "HS256" and (key == LOCAL_SIGNING_KEY or len(key) < 32):
                raise ValueError(
                    "jwt_signing_key: the local default (or a key shorter than 32 characters) "
                    "is refused outside local mode"
                )
            if self.jwt_algorithm == "RS256" and not self.jwt_public_key:
                raise ValueError("jwt_public_key: required for RS256")
            if "password@" in self.database_url or ":local@" in self.database_url:
                raise ValueError("database_url: a default password is refused outside local mode")
        return self
