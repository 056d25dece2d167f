from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, ClassVar, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_serializer,
)

from tessera_billing.api import Currency, MoneyOut, plain_number
from tessera_shared.decimals import MoneyIn, Percent, Quantity
from tessera_shared.http.inputs import IsoDate, Trim

UnitPrice: TypeAlias = MoneyIn


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: Annotated[str, Trim(min_length=1, max_length=500)]
    product_code: Annotated[str, Trim(min_length=1, max_length=100)] | None = None
    quantity: Quantity
    unit_price: UnitPrice
    discount_percent: Percent = Decimal(0)
    # None: the service's default tax rate.
    tax_rate_percent: Percent | None = None


class InvoiceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    currency: Currency
    lines: list[LineIn] = Field(min_length=1, max_length=200)
    issue_date: IsoDate | None = Field(default=None, description="Defaults to today")
    payment_terms_days: StrictInt | None = Field(
        default=None, ge=0, le=365, description="Defaults to the customer's credit profile"
    )
    note: Annotated[str, StringConstraints(max_length=1000)] | None = None
    issue: StrictBool = Field(default=False, description="Issue at once instead of leaving a draft")


class InvoiceIssue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    issue_date: IsoDate | None = Field(default=None, description="Defaults to the draft's issue date")


class LineOut(MoneyOut):
    money_fields: ClassVar[tuple[str, ...]] = ("net_amount", "tax_amount", "total")

    position: int
    product_code: str | None
    description: str
    currency: str
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    tax_rate_percent: Decimal
    net_amount: Decimal
    tax_amount: Decimal
    total: Decimal
    # On a member discount line (negative): the member level's rate it took off (docs/domain.md §10.5).
    member_discount_percent: Decimal | None = None

    @field_serializer("quantity", "unit_price", "discount_percent", "tax_rate_percent")
    def _plain(self, value: Decimal) -> str:
        return str(plain_number(value))

    @field_serializer("member_discount_percent")
    def _plain_rate(self, value: Decimal | None) -> str | None:
        return None if value is None else str(plain_number(value))


class InvoiceOut(MoneyOut):
    money_fields: ClassVar[tuple[str, ...]] = (
        "subtotal",
        "tax_total",
        "total",
        "amount_paid",
        "amount_written_off",
        "balance_due",
    )

    id: uuid.UUID
    number: str | None
    customer_id: uuid.UUID
    customer_name: str | None
    deal_id: uuid.UUID | None
    status: str
    currency: str
    issue_date: date
    due_date: date
    payment_terms_days: int
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    amount_paid: Decimal
    amount_written_off: Decimal
    balance_due: Decimal
    overdue_since: date | None
    dunning_step: int
    note: str | None
    created_by: str
    issued_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class InvoiceDetail(InvoiceOut):
    lines: list[LineOut]
