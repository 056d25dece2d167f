from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tessera_shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TESSERA_GATEWAY_", extra="ignore", frozen=True)

    service_name: str = "gateway"
    port: int = 8000
    kafka_enabled: bool = False

    customer_url: str = "http://127.0.0.1:8001"
    sales_url: str = "http://127.0.0.1:8002"
    service_desk_url: str = "http://127.0.0.1:8003"
    billing_url: str = "http://127.0.0.1:8004"
    upstream_timeout: float = Field(default=10.0, gt=0)
    upstream_connect_timeout: float = Field(default=2.0, gt=0)
    upstream_max_connections: int = Field(default=200, gt=0)

    access_token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    # Accounts as JSON: [{"username", "password_hash" (argon2), "roles": [...], "kind": "user"|"client"}].
    # Local mode adds the documented local accounts (password "local") when this is empty.
    accounts_json: str = "[]"
