from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tessera_shared.exports import settings as exports


class CustomerSettings(exports.ExportSettings):
    model_config = SettingsConfigDict(env_prefix="TESSERA_CUSTOMER_", extra="ignore", frozen=True)

    service_name: str = "customer"
    port: int = 8001
    database_url: str = "sqlite+aiosqlite:///./.data/customer.db"

    # Lifecycle: N purchases within the window make a repeat customer loyal.
    loyal_min_purchases: int = Field(default=3, ge=2)
    loyal_window_days: int = Field(default=365, ge=1)
    # No purchase within this many days makes a buying customer churned.
    churn_window_days: int = Field(default=365, ge=1)
    churn_job_interval_seconds: float = Field(default=3600, gt=0)

    # Value: tiers, RFM and frequency are computed over this window, in this currency.
    value_window_days: int = Field(default=365, ge=1)
    value_currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    # Conversion into value_currency (1 unit of key = rate units); other currencies are left out.
    fx_rates: dict[str, Decimal] = Field(default_factory=dict)
    # Pareto: customers making up the top key_share of revenue are key; the bottom small_share small.
    tier_key_share: Decimal = Field(default=Decimal("0.80"), gt=0, le=1)
    tier_small_share: Decimal = Field(default=Decimal("0.05"), ge=0, lt=1)
    # Bank-style VIP rule: lifetime value (value_currency) at or above this is always key.
    tier_vip_lifetime_value: Decimal | None = Field(default=None, gt=0)
    # Average days between purchases: up to heavy_days is heavy, up to medium_days medium.
    frequency_heavy_days: int = Field(default=10, ge=1)
    frequency_medium_days: int = Field(default=45, ge=1)
    value_job_interval_seconds: float = Field(default=3600, gt=0)

    # Churn risk at or above this puts a customer on the win-back list.
    churn_risk_threshold: int = Field(default=50, ge=0, le=100)

    # Loyalty: points per whole unit of an invoice's currency (default rate when not listed).
    loyalty_points_per_unit: Decimal = Field(default=Decimal(1), ge=0)
    loyalty_rates: dict[str, Decimal] = Field(default_factory=dict)
    # Member levels: name -> (points earned in total to reach it, discount percent).
    loyalty_levels: dict[str, tuple[int, Decimal]] = Field(
        default_factory=lambda: {
            "silver": (0, Decimal("0")),
            "gold": (1000, Decimal("5")),
            "platinum": (5000, Decimal("10")),
        }
    )

    # Customer pool: an owner with no activity on a customer for this many days loses it.
    pool_inactive_days: int = Field(default=90, ge=1)
    pool_job_interval_seconds: float = Field(default=3600, gt=0)

    # Bulk import: the largest body the import route reads (other routes keep max_body_bytes).
    import_max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    import_batch_size: int = Field(default=1000, ge=1, le=5000)
