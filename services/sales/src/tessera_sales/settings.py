from decimal import Decimal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from tessera_shared.settings import ServiceSettings


class SalesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TESSERA_SALES_", extra="ignore", frozen=True)

    service_name: str = "sales"
    port: int = 8002
    database_url: str = "sqlite+aiosqlite:///./.data/sales.db"

    # Lead conversion creates customers through the customer service, with a service credential.
    customer_url: str = "http://127.0.0.1:8001"
    client_id: str = "svc-sales"
    client_secret: SecretStr = SecretStr("local")
    upstream_timeout: float = Field(default=5.0, gt=0)

    # A deal above its currency's threshold is flagged to managers (deal.large_detected);
    # currencies not listed are never flagged. JSON in the environment: {"EUR": "100000"}.
    large_deal_thresholds: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "EUR": Decimal("100000"),
            "USD": Decimal("100000"),
            "GBP": Decimal("100000"),
            "CNY": Decimal("700000"),
            "JPY": Decimal("15000000"),
        }
    )
    reminder_interval_seconds: float = Field(default=60, gt=0)
