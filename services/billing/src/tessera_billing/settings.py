from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tessera_shared.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TESSERA_BILLING_", extra="ignore", frozen=True)

    service_name: str = "billing"
    port: int = 8004
    database_url: str = "sqlite+aiosqlite:///./.data/billing.db"

    # The credit profile a new customer gets until finance sets one.
    default_currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    default_credit_limit: Decimal = Field(default=Decimal("10000.00"), ge=0)
    default_payment_terms_days: int = Field(default=30, ge=0, le=365)
    default_credit_rating: str = Field(default="B", pattern=r"^[A-D]$")
