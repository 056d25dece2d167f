from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tessera_shared.customer_directory import CustomerServiceSettings
from tessera_shared.exports import settings as exports


class SalesSettings(exports.ExportSettings, CustomerServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TESSERA_SALES_", extra="ignore", frozen=True)

    service_name: str = "sales"
    port: int = 8002
    database_url: str = "sqlite+aiosqlite:///./.data/sales.db"

    # Lead conversion creates customers through the customer service, and a write naming a customer
    # not known here reads it there (customer_url, client_secret, upstream_timeout: shared fields).
    client_id: str = "svc-sales"

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
    # A win for a customer whose credit position billing has not announced yet (it does so a
    # fraction of a second after customer.created) waits this long for it before answering 503.
    credit_position_wait_seconds: float = Field(default=5.0, ge=0)
