"""HTTP helpers shared by billing's routers: settings, money fields, role tuples."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

from tessera_billing.known_customers.handlers import KNOWN_CUSTOMERS
from tessera_billing.money import has_valid_precision, quantize
from tessera_billing.settings import BillingSettings
from tessera_shared.auth import Role
from tessera_shared.customer_directory import CustomerDirectory
from tessera_shared.decimals import MoneyIn, PositiveMoneyIn
from tessera_shared.errors import InvalidInput
from tessera_shared.http.inputs import Trim
from tessera_shared.known_customers import ReadThrough, read_through

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
# Amounts a client sends: decimal strings with their limits in the schema's pattern.
PositiveAmount = PositiveMoneyIn
NonNegativeAmount = MoneyIn
Text200 = Annotated[str, Trim(min_length=1, max_length=200)]


def _settings(request: Request) -> BillingSettings:
    return request.app.state.settings


SettingsDep = Annotated[BillingSettings, Depends(_settings)]


def _customer_directory(request: Request) -> CustomerDirectory:
    directory: CustomerDirectory = request.app.state.customer_directory
    return directory


# The customer service, as the known-customer read-through reaches it (docs/domain.md §10.2).
CustomerDirectoryDep = Annotated[CustomerDirectory, Depends(_customer_directory)]
# Known customers only (§10.2): the read-through, called by a router before its transaction opens.
ReadThroughDep = Annotated[ReadThrough, Depends(read_through(KNOWN_CUSTOMERS))]


def today() -> date:
    return datetime.now(UTC).date()


def check_precision(amount: Decimal, currency: str, field: str) -> None:
    if not has_valid_precision(amount, currency):
        raise InvalidInput(field, f"more decimals than {currency} has")


class MoneyOut(BaseModel):
    """Amounts shown in the currency's minor unit, whatever the database's scale."""

    model_config = ConfigDict(from_attributes=True)
    money_fields: ClassVar[tuple[str, ...]] = ()
    if TYPE_CHECKING:
        # Every subclass declares it (in its own place in the field order, so not here).
        currency: str

    @model_validator(mode="after")
    def _quantize(self) -> Any:
        currency = self.currency
        for name in self.money_fields:
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, quantize(value, currency))
        return self


def plain_number(value: Decimal) -> Decimal:
    """2.0000 -> 2, 1.5000 -> 1.5 (never exponent notation)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


# Who may read what: named here, not in the routers, because the receivables read (one
# snapshot for the customer 360) applies the same rules as the invoice, credit and report
# endpoints, and no router imports another.
INVOICE_READERS = (
    Role.BILLING_CLERK,
    Role.FINANCE_MANAGER,
    Role.SALES_MANAGER,
    Role.SALES_REP,
    Role.SUPPORT_AGENT,
    Role.SERVICE,
)
CREDIT_READERS = (Role.BILLING_CLERK, Role.FINANCE_MANAGER, Role.SALES_MANAGER, Role.SALES_REP, Role.SERVICE)
REPORT_READERS = (Role.BILLING_CLERK, Role.FINANCE_MANAGER, Role.SERVICE)
