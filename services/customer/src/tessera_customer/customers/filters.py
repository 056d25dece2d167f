"""The customer filters: one model for the list's query string and a saved segment's body,
one query builder for the list, segment members and segment exports."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints
from sqlalchemy import ColumnElement, Select, or_
from sqlmodel import col

from tessera_customer.customers.models import TAGS, Customer
from tessera_customer.customers.rules import name_key, normalise_email, normalise_phone
from tessera_shared.decimals import DecimalString
from tessera_shared.http.inputs import IsoAwareDatetime

# A statement over customers: the filters keep its row type.
S = TypeVar("S", bound=Select[*tuple[Any, ...]])

Text = Annotated[str, StringConstraints(min_length=1, max_length=100)]
# Revenue in the reporting currency: the Money column's NUMERIC(20, 4), as a decimal string.
Monetary = Annotated[
    Decimal,
    DecimalString(max_digits=20, decimal_places=4, description="amount in the reporting currency", example="1000"),
]

# Filters that are a plain equality on the column of the same name.
EQUALITY = (
    "status",
    "tier",
    "owner_id",
    "relation",
    "relationship_type",
    "kind",
    "country",
    "region",
    "city",
    "climate_zone",
    "gender",
    "age_band",
    "occupation",
    "education",
    "lifestyle",
    "social_status",
    "rfm_segment",
    "frequency_class",
    "lifecycle_stage",
)


class CustomerFilter(BaseModel):
    """Filters over classification, segmentation variables and value (all optional, all ANDed)."""

    model_config = ConfigDict(frozen=True)

    status: Literal["non_customer", "prospect", "first_time", "repeat", "loyal", "churned"] | None = None
    tier: Literal["key", "ordinary", "small"] | None = None
    owner_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    unowned: bool | None = Field(default=None, description="true: only the unowned pool; false: only owned")
    team_id: uuid.UUID | None = Field(default=None, description="only the customers of this team")
    tag: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    relation: Literal["consumer", "intermediary", "internal", "public"] | None = None
    relationship_type: Literal["transactional", "preferred_supplier", "partner", "strategic_alliance"] | None = None
    kind: Literal["person", "organization"] | None = None
    email: Annotated[str, StringConstraints(min_length=1, max_length=320)] | None = None
    q: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="Prefix of name, email or phone"
    )
    # Segmentation variables: demographic, geographic, psychographic.
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    region: Text | None = None
    city: Text | None = None
    climate_zone: Text | None = None
    gender: Text | None = None
    age_band: Text | None = None
    occupation: Text | None = None
    education: Text | None = None
    lifestyle: Text | None = None
    social_status: Text | None = None
    # Value variables and computed classes.
    rfm_segment: Text | None = None
    frequency_class: Literal["heavy", "medium", "light"] | None = None
    lifecycle_stage: Literal["exploration", "formation", "stability", "decline"] | None = None
    min_churn_risk: int | None = Field(default=None, ge=0, le=100)
    min_monetary: Monetary | None = Field(
        default=None, description="Window revenue in the reporting currency, at least"
    )
    max_monetary: Monetary | None = None
    min_purchases: int | None = Field(default=None, ge=0, le=1_000_000)
    last_purchase_after: IsoAwareDatetime | None = None
    last_purchase_before: IsoAwareDatetime | None = None

    def active(self) -> dict[str, Any]:
        """The filters that are set (what a segment stores)."""
        return self.model_dump(mode="json", exclude_none=True)

    def apply(self, stmt: S) -> S:
        stmt = stmt.where(col(Customer.merged_into_id).is_(None))
        for name in EQUALITY:
            value = getattr(self, name)
            if value is not None:
                stmt = stmt.where(getattr(Customer, name) == value)
        if self.unowned is not None:
            owner = col(Customer.owner_id)
            stmt = stmt.where(owner.is_(None) if self.unowned else owner.is_not(None))
        if self.email:
            stmt = stmt.where(col(Customer.email) == normalise_email(self.email))
        if self.tag:
            stmt = stmt.where(TAGS.tagged(self.tag))
        if self.team_id is not None:
            stmt = stmt.where(col(Customer.team_id) == self.team_id)
        if self.min_churn_risk is not None:
            stmt = stmt.where(col(Customer.churn_risk) >= self.min_churn_risk)
        if self.min_monetary is not None:
            stmt = stmt.where(col(Customer.monetary) >= self.min_monetary)
        if self.max_monetary is not None:
            stmt = stmt.where(col(Customer.monetary) <= self.max_monetary)
        if self.min_purchases is not None:
            stmt = stmt.where(col(Customer.purchase_count) >= self.min_purchases)
        if self.last_purchase_after is not None:
            stmt = stmt.where(col(Customer.last_purchase_at) >= self.last_purchase_after)
        if self.last_purchase_before is not None:
            stmt = stmt.where(col(Customer.last_purchase_at) < self.last_purchase_before)
        if self.q:
            stmt = stmt.where(_search(self.q))
        return stmt


class SegmentFilter(CustomerFilter):
    """The same filters as a JSON body: unknown names are refused rather than ignored, and the
    JSON types are the documented ones (no ``0`` for false, no ``true`` or ``"5"`` for a number;
    the query form reads text and stays lax)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unowned: StrictBool | None = Field(default=None, description="true: only the unowned pool; false: only owned")
    min_churn_risk: StrictInt | None = Field(default=None, ge=0, le=100)
    min_purchases: StrictInt | None = Field(default=None, ge=0, le=1_000_000)


def _search(q: str) -> ColumnElement[bool]:
    """Prefix search on the normalised name, the email or the phone digits (all indexed)."""
    q = q.strip()
    conditions: list[ColumnElement[bool]] = []
    key = name_key(q)
    if key:
        conditions.append(col(Customer.name_key).startswith(key, autoescape=True))
    if "@" in q or "." in q:
        conditions.append(col(Customer.email).startswith(normalise_email(q) or "", autoescape=True))
    phone = normalise_phone(q)
    if phone and len(phone.lstrip("+")) >= 3:
        conditions.append(col(Customer.phone).startswith(phone, autoescape=True))
    return or_(*conditions) if conditions else col(Customer.id).is_(None)
