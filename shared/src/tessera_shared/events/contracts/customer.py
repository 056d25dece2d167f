"""Facts published by the customer service on ``crm.customer`` (key: the customer id)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from tessera_shared.events.contracts.types import Amount, Changes, Currency, Personal, Rate
from tessera_shared.events.envelope import EventData

CustomerStatus = Literal["non_customer", "prospect", "first_time", "repeat", "loyal", "churned"]
Tier = Literal["key", "ordinary", "small"]
BuyingRole = Literal["decision_maker", "influencer", "user", "gatekeeper"]
ConsentPurpose = Literal["marketing_email", "sms", "phone", "profiling"]


class CustomerEvent(EventData):
    producer: ClassVar[str] = "customer"


class CustomerCreated(CustomerEvent):
    event_type: ClassVar[str] = "customer.created"

    customer_id: uuid.UUID
    kind: Literal["person", "organization"]
    name: Annotated[str, Personal] = Field(max_length=200)
    email: Annotated[str | None, Personal] = None
    owner_id: str | None = None
    status: str
    created_at: datetime
    # The customer's typed custom field values by key (issue 24 part 2; absent from events published before).
    custom_fields: Annotated[dict[str, Any], Personal] = Field(default_factory=dict)
    # The customer's team (routed by territory, or named by a manager); absent: none.
    team_id: uuid.UUID | None = None


class CustomerUpdated(CustomerEvent):
    """The record changed; carries the fields other services keep copies of."""

    event_type: ClassVar[str] = "customer.updated"

    customer_id: uuid.UUID
    changed_fields: list[str]
    name: Annotated[str, Personal]
    email: Annotated[str | None, Personal] = None
    owner_id: str | None = None
    version: int
    updated_at: datetime
    # The whole new object of custom field values when one changed (``changed_fields`` names custom_fields).
    custom_fields: Annotated[dict[str, Any] | None, Personal] = None


class ContactCreated(CustomerEvent):
    """A named person was added to an organisation customer (its contacts, docs/domain.md §1.1)."""

    event_type: ClassVar[str] = "contact.created"

    contact_id: uuid.UUID
    customer_id: uuid.UUID
    # The customer's owner.
    owner_id: str | None = None
    name: Annotated[str, Personal] = Field(max_length=200)
    title: Annotated[str | None, Personal] = None
    department: Annotated[str | None, Personal] = None
    email: Annotated[str | None, Personal] = None
    phone: Annotated[str | None, Personal] = None
    buying_role: BuyingRole | None = None
    # The contact's typed custom field values by key (issue 24 part 2; absent from events published before).
    custom_fields: Annotated[dict[str, Any], Personal] = Field(default_factory=dict)
    created_at: datetime


class ContactChanges(Changes):
    """The fields of a contact a change set (new values)."""

    name: Annotated[str | None, Personal] = Field(default=None, max_length=200)
    title: Annotated[str | None, Personal] = None
    department: Annotated[str | None, Personal] = None
    email: Annotated[str | None, Personal] = None
    phone: Annotated[str | None, Personal] = None
    buying_role: BuyingRole | None = None
    # The whole new object of custom field values when one changed.
    custom_fields: Annotated[dict[str, Any] | None, Personal] = None


class ContactUpdated(CustomerEvent):
    """A contact's fields changed; not published when nothing changed."""

    event_type: ClassVar[str] = "contact.updated"

    contact_id: uuid.UUID
    customer_id: uuid.UUID
    owner_id: str | None = None
    changes: ContactChanges
    version: int = Field(ge=1)
    updated_at: datetime


class ContactDeleted(CustomerEvent):
    """A contact was removed from its organisation (not by an erasure, which announces
    ``customer.erased`` only)."""

    event_type: ClassVar[str] = "contact.deleted"

    contact_id: uuid.UUID
    customer_id: uuid.UUID
    owner_id: str | None = None
    deleted_at: datetime


class CustomerStatusChanged(CustomerEvent):
    event_type: ClassVar[str] = "customer.status_changed"

    customer_id: uuid.UUID
    from_status: CustomerStatus
    to_status: CustomerStatus
    # What drove it: deal_won, purchase, churn_window, won_back, manual_override, ...
    reason: str
    actor: str | None = None
    changed_at: datetime


class CustomerTierChanged(CustomerEvent):
    event_type: ClassVar[str] = "customer.tier_changed"

    customer_id: uuid.UUID
    from_tier: Tier | None
    to_tier: Tier
    lifetime_value: Amount
    currency: Currency
    changed_at: datetime


class CustomerMerged(CustomerEvent):
    """``merged_id`` no longer exists; everything it had now belongs to ``survivor_id``."""

    event_type: ClassVar[str] = "customer.merged"

    survivor_id: uuid.UUID
    merged_id: uuid.UUID
    actor: str
    merged_at: datetime


class CustomerErased(CustomerEvent):
    """Personal data of the customer must be removed or anonymised everywhere."""

    event_type: ClassVar[str] = "customer.erased"

    customer_id: uuid.UUID
    requested_by: str
    erased_at: datetime


class CustomerConsentChanged(CustomerEvent):
    """A consent for one purpose was given or withdrawn: every answer recorded, each purpose whose
    current answer a merge moved to the survivor, and every granted purpose an erasure withdrew
    (source ``erasure``)."""

    event_type: ClassVar[str] = "customer.consent_changed"

    customer_id: uuid.UUID
    purpose: ConsentPurpose
    granted: bool
    # Where the answer came from (a form, a call, ``erasure``, ...), as recorded.
    source: str = Field(max_length=100)
    actor: str | None = None
    changed_at: datetime


class LoyaltyLevelChanged(CustomerEvent):
    """The member level reached by the points earned moved (docs/domain.md §10.5): billing takes
    ``discount_percent`` off the invoices it makes from won deals."""

    event_type: ClassVar[str] = "loyalty.level_changed"

    customer_id: uuid.UUID
    from_level: str | None = Field(default=None, max_length=20)
    to_level: str = Field(max_length=20)
    discount_percent: Rate
    earned_total: int = Field(ge=0)
    changed_at: datetime


class LoyaltyPointsRedeemed(CustomerEvent):
    """The answer to billing's ``loyalty.payment_requested``: the points are off the balance, billing
    records the payment."""

    event_type: ClassVar[str] = "loyalty.points_redeemed"

    request_id: uuid.UUID
    customer_id: uuid.UUID
    invoice_id: uuid.UUID
    points: int = Field(gt=0)
    balance: int = Field(ge=0)
    redeemed_at: datetime


class LoyaltyRedemptionRefused(CustomerEvent):
    """The answer to billing's ``loyalty.payment_requested`` when the balance is short: nothing is paid."""

    event_type: ClassVar[str] = "loyalty.redemption_refused"

    request_id: uuid.UUID
    customer_id: uuid.UUID
    invoice_id: uuid.UUID
    points: int = Field(gt=0)
    balance: int = Field(ge=0)
    reason: Literal["insufficient-points"]
    refused_at: datetime
