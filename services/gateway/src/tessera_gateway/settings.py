from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from tessera_shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TESSERA_GATEWAY_", extra="ignore", frozen=True)

    service_name: str = "gateway"
    port: int = 8000
    database_url: str = "sqlite+aiosqlite:///./.data/gateway.db"
    kafka_enabled: bool = False

    customer_url: str = "http://127.0.0.1:8001"
    sales_url: str = "http://127.0.0.1:8002"
    service_desk_url: str = "http://127.0.0.1:8003"
    billing_url: str = "http://127.0.0.1:8004"
    notifications_url: str = "http://127.0.0.1:8005"
    upstream_timeout: float = Field(default=10.0, gt=0)
    upstream_connect_timeout: float = Field(default=2.0, gt=0)
    upstream_max_connections: int = Field(default=64, gt=0)  # per upstream service
    # The 360 view answers within this, with whatever sections arrived.
    view_deadline_seconds: float = Field(default=2.0, gt=0, le=30)
    export_deadline_seconds: float = Field(default=15.0, gt=0, le=120)
    # Bulk import passes through with a larger body and more time than ordinary calls.
    import_max_body_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    import_timeout: float = Field(default=300.0, gt=0)

    access_token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=8 * 3600, ge=300, le=30 * 86_400)
    # Accounts as JSON: [{"username", "password_hash" (argon2), "roles": [...], "kind": "user"|"client"}].
    # Local mode adds the documented local accounts (password "local") when this is empty.
    accounts_json: str = "[]"

    # Login throttling: this many failures for one user name or one address within the window
    # (sliding; counted in the database, shared by every replica: limits/store.py).
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    # Requests per token in any minute through /api/v1 (a sliding window shared by every replica,
    # at most this many in any 60 s; the survey links' per-address limit is the same number).
    rate_limit_per_minute: int = Field(default=1200, ge=1)
    # API keys (apikeys/): every replica re-reads what changed this often (a revocation made through
    # another replica is refused here within it), and writes keys' last use at most this often.
    api_keys_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    api_key_usage_flush_seconds: float = Field(default=60.0, ge=0, le=3600)
    cors_origins: list[str] = Field(default_factory=list)
    # Peers (addresses or CIDR networks) whose X-Forwarded-For names the client: the load
    # balancer or ingress in front of the gateway. Empty: the connecting address is the client,
    # whatever X-Forwarded-For says (run uvicorn with --no-proxy-headers: docs/operations.md).
    trusted_proxies: list[str] = Field(default_factory=list)

    # The 360 view cache (views/cache.py). It follows every service's topic on kafka_bootstrap and
    # the services' consumer groups; without a broker it stays off and every view is composed.
    view_cache_enabled: bool = True
    # The bound on staleness for what no event reports (a write through another replica that
    # publishes no event); events clear a view within their lag.
    view_cache_ttl_seconds: float = Field(default=30.0, gt=0, le=3600)
    view_cache_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    # The services' consumer group ids, as they name them by default (and `make run` does).
    view_cache_group_template: str = "{namespace}tessera-{service}"

    @model_validator(mode="after")
    def _gateway_signs(self) -> "GatewaySettings":
        if self.jwt_algorithm == "RS256" and self.jwt_private_key is None:
            raise ValueError("jwt_private_key: the gateway needs the RS256 private key to sign tokens")
        return self
