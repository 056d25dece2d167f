from decimal import Decimal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from tessera_shared.customer_directory import CustomerServiceSettings
from tessera_shared.exports import settings as exports


class BillingSettings(exports.ExportSettings, CustomerServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TESSERA_BILLING_", extra="ignore", frozen=True)

    service_name: str = "billing"
    port: int = 8004
    database_url: str = "sqlite+aiosqlite:///./.data/billing.db"
    # An invoice or a payment naming a customer not known here reads it through the customer
    # service with this client's credential (customer_url, client_secret: shared fields; §10.2).
    client_id: str = "svc-billing"

    # The credit profile a new customer gets until finance sets one.
    default_currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    default_credit_limit: Decimal = Field(default=Decimal("10000.00"), ge=0)
    default_payment_terms_days: int = Field(default=30, ge=0, le=365)
    default_credit_rating: str = Field(default="B", pattern=r"^[A-D]$")

    # Invoicing policy: invoices from won deals are issued at once, or left as drafts for a clerk.
    issue_invoices_from_deals: bool = True
    # Tax rate for a line that names none (percent).
    default_tax_rate_percent: Decimal = Field(default=Decimal("0"), ge=0, le=100)
    # Customer credit (over-payments) is applied to a new invoice when it is issued.
    auto_apply_credit: bool = True
    # Loyalty points paying an invoice (docs/domain.md §10.5): what one point pays, per currency
    # (loyalty_point_values), else loyalty_point_value units of the invoice's currency.
    loyalty_point_value: Decimal = Field(default=Decimal("0.01"), gt=0, le=1000)
    loyalty_point_values: dict[str, Decimal] = Field(default_factory=dict)

    # Days after the due date before an invoice counts as overdue.
    overdue_grace_days: int = Field(default=0, ge=0, le=90)
    # Dunning steps in days overdue; the last step hands the invoice to collection.
    dunning_schedule_days: list[int] = Field(default_factory=lambda: [1, 7, 15, 30])
    overdue_job_interval_seconds: float = Field(default=3600, gt=0)

    @field_validator("dunning_schedule_days")
    @classmethod
    def _increasing(cls, value: list[int]) -> list[int]:
        if not value or any(d < 1 for d in value) or sorted(set(value)) != value:
            raise ValueError("dunning_schedule_days must be strictly increasing positive days")
        return value
