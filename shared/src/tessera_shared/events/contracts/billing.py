"""Facts published by the billing service on ``crm.billing`` (key: the customer id)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from tessera_shared.events.contracts.types import (
    Amount,
    Changes,
    Currency,
    ExchangeRate,
    NonNegativeAmount,
    PositiveAmount,
)
from tessera_shared.events.envelope import EventData


class BillingEvent(EventData):
    producer: ClassVar[str] = "billing"


class InvoiceIssued(BillingEvent):
    event_type: ClassVar[str] = "invoice.issued"

    invoice_id: uuid.UUID
    number: str
    customer_id: uuid.UUID
    deal_id: uuid.UUID | None = None
    total: NonNegativeAmount
    currency: Currency
    issue_date: date
    due_date: date
    issued_at: datetime


InvoiceStatus = Literal["draft", "issued", "partially_paid", "paid", "overdue", "void", "written_off"]


class InvoiceChanges(Changes):
    """The fields of an invoice a change set (new values)."""

    status: InvoiceStatus | None = None
    amount_paid: NonNegativeAmount | None = None
    balance_due: NonNegativeAmount | None = None


class InvoiceUpdated(BillingEvent):
    """An invoice changed in a way no other invoice event announces: voided (``voided``), or
    settled in part from the customer's credit (``credit_applied``; settled in full is
    ``invoice.paid``)."""

    event_type: ClassVar[str] = "invoice.updated"

    invoice_id: uuid.UUID
    # Null for a draft (numbers are given at issue).
    number: str | None = None
    customer_id: uuid.UUID
    deal_id: uuid.UUID | None = None
    currency: Currency
    reason: Literal["voided", "credit_applied"]
    changes: InvoiceChanges
    version: int = Field(ge=1)
    updated_at: datetime


class Allocation(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    invoice_id: uuid.UUID
    # The deal the invoice came from: sales attributes collected cash to campaigns by it.
    deal_id: uuid.UUID | None = None
    amount: PositiveAmount


# The payment method of points redeemed for an invoice (docs/domain.md §10.5): not money received,
# so it adds nothing to lifetime value and earns no points.
LOYALTY_POINTS_METHOD: Final = "loyalty_points"


class PaymentReceived(BillingEvent):
    event_type: ClassVar[str] = "payment.received"

    payment_id: uuid.UUID
    customer_id: uuid.UUID
    amount: PositiveAmount
    currency: Currency
    method: str
    received_on: date
    allocations: list[Allocation]
    # Over-payment kept as customer credit.
    unallocated: NonNegativeAmount
    received_at: datetime


class InvoicePaid(BillingEvent):
    event_type: ClassVar[str] = "invoice.paid"

    invoice_id: uuid.UUID
    number: str
    customer_id: uuid.UUID
    deal_id: uuid.UUID | None = None
    total: NonNegativeAmount
    currency: Currency
    paid_at: datetime
    # The part of the total paid with loyalty points (payments with method ``loyalty_points``):
    # points are earned on ``total - paid_with_points`` only.
    paid_with_points: NonNegativeAmount = Decimal(0)


class InvoiceOverdue(BillingEvent):
    event_type: ClassVar[str] = "invoice.overdue"

    invoice_id: uuid.UUID
    number: str
    customer_id: uuid.UUID
    deal_id: uuid.UUID | None = None
    amount_due: NonNegativeAmount
    currency: Currency
    due_date: date
    days_overdue: int = Field(ge=1)
    detected_at: datetime


class DunningStep(BillingEvent):
    event_type: ClassVar[str] = "dunning.step"

    invoice_id: uuid.UUID
    number: str
    customer_id: uuid.UUID
    step: int = Field(ge=1)
    days_overdue: int = Field(ge=1)
    action: Literal["reminder", "final_notice", "collection"]
    amount_due: NonNegativeAmount
    currency: Currency
    occurred_at: datetime


class CreditLimitExceeded(BillingEvent):
    event_type: ClassVar[str] = "credit.limit_exceeded"

    customer_id: uuid.UUID
    deal_id: uuid.UUID | None = None
    requested_amount: NonNegativeAmount
    exposure: Amount
    credit_limit: NonNegativeAmount
    currency: Currency
    detected_at: datetime
    # Set when a finance manager let the deal past the limit at the win (docs/domain.md §10.1):
    # the event is then the record of that approved override, with sales' figures.
    approved_by: str | None = None
    # The rate the deal's amount was converted with into the limit's currency (null: same currency).
    exchange_rate: ExchangeRate | None = None
    deal_currency: Currency | None = None


Rating = Literal["A", "B", "C", "D"]
ExposureReason = Literal[
    "profile_created",
    "profile_changed",
    "invoice_issued",
    "invoice_voided",
    "payment_applied",
    "invoice_written_off",
    "customer_merged",
]


class OpenBalance(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    currency: Currency
    amount: Amount


class CreditExposureChanged(BillingEvent):
    """A customer's credit limit and open receivables after any change to either (§10.1)."""

    event_type: ClassVar[str] = "credit.exposure_changed"

    customer_id: uuid.UUID
    credit_limit: Amount
    # The limit's currency.
    currency: Currency
    rating: Rating
    # Open receivables (issued, partially paid, overdue) in the limit's currency.
    exposure: Amount
    # Open receivables per currency, every currency with something open (the limit's included).
    open_balances: list[OpenBalance] = Field(default_factory=list)
    reason: ExposureReason
    # The deal whose invoice this change is about, when there is one.
    deal_id: uuid.UUID | None = None
    changed_at: datetime


class ExchangeRateSet(BillingEvent):
    """The operator's rate table changed: 1 ``from_currency`` = ``rate`` ``to_currency`` (§10.1).

    Key and subject: ``<from>/<to>`` (no customer)."""

    event_type: ClassVar[str] = "exchange_rate.set"

    from_currency: Currency
    to_currency: Currency
    rate: ExchangeRate
    set_by: str
    set_at: datetime


class WriteOffRequested(BillingEvent):
    """A clerk asked to write an invoice off; it waits for a finance manager other than the
    requester to approve or reject it (``invoice.written_off`` follows an approval)."""

    event_type: ClassVar[str] = "write_off.requested"

    write_off_id: uuid.UUID
    invoice_id: uuid.UUID
    number: str
    customer_id: uuid.UUID
    deal_id: uuid.UUID | None = None
    # The balance when requested; the balance at approval is what is written off.
    amount: NonNegativeAmount
    currency: Currency
    requested_by: str
    requested_at: datetime


class InvoiceWrittenOff(BillingEvent):
    event_type: ClassVar[str] = "invoice.written_off"

    invoice_id: uuid.UUID
    number: str
    customer_id: uuid.UUID
    amount: NonNegativeAmount
    currency: Currency
    requested_by: str
    approved_by: str
    written_off_at: datetime


class LoyaltyPaymentRequested(BillingEvent):
    """A clerk asked to pay part of an invoice with the customer's points (docs/domain.md §10.5); the
    customer service answers ``loyalty.points_redeemed`` or ``loyalty.redemption_refused``."""

    event_type: ClassVar[str] = "loyalty.payment_requested"

    request_id: uuid.UUID
    customer_id: uuid.UUID
    invoice_id: uuid.UUID
    number: str
    points: int = Field(gt=0)
    # What the points pay, at billing's conversion rate for the invoice's currency.
    amount: Amount
    currency: Currency
    requested_by: str
    requested_at: datetime


class LoyaltyPaymentReversed(BillingEvent):
    """Redeemed points that no longer pay anything: the customer service gives them back."""

    event_type: ClassVar[str] = "loyalty.payment_reversed"

    request_id: uuid.UUID
    customer_id: uuid.UUID
    invoice_id: uuid.UUID
    number: str
    points: int = Field(gt=0)
    amount: Amount
    currency: Currency
    # invoice_voided: the invoice the points paid was voided; invoice_not_open: by the time the
    # points were redeemed the invoice no longer had that much open.
    reason: Literal["invoice_voided", "invoice_not_open"]
    reversed_at: datetime
