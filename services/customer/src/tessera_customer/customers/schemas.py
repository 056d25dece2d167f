from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from tessera_customer.customers.models import DEMOGRAPHIC, GEOGRAPHIC, PSYCHOGRAPHIC, Customer
from tessera_shared.custom_fields import CustomFieldValues
from tessera_shared.emails import Email
from tessera_shared.http.inputs import Trim
from tessera_shared.tags import Tag

Name = Annotated[str, Trim(min_length=1, max_length=200)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()./-]{5,40}$")]
Short = Annotated[str, Trim(min_length=1, max_length=100)]
OwnerId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Relation = Literal["consumer", "intermediary", "internal", "public"]
RelationshipType = Literal["transactional", "preferred_supplier", "partner", "strategic_alliance"]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class Channel(BaseModel):
    """One more way to reach the customer beside the primary email and phone."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["email", "phone", "postal"]
    value: Annotated[str, Trim(min_length=1, max_length=500)]
    label: Annotated[str, Trim(max_length=50)] | None = None


class Demographic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gender: Annotated[str, StringConstraints(max_length=30)] | None = None
    age_band: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,3}(-[0-9]{1,3}|\+)$")] | None = None
    occupation: Short | None = None
    education: Short | None = None


class Geographic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    country: Country | None = None
    region: Short | None = None
    city: Short | None = None
    climate_zone: Annotated[str, StringConstraints(max_length=50)] | None = None


class Psychographic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lifestyle: Short | None = None
    social_status: Short | None = None
    preferences: list[Short] = Field(default_factory=list, max_length=50)


class Segmentation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    demographic: Demographic = Field(default_factory=Demographic)
    geographic: Geographic = Field(default_factory=Geographic)
    psychographic: Psychographic = Field(default_factory=Psychographic)

    def columns(self) -> dict[str, Any]:
        # Attribute reads, not model_dump: the bulk import calls this for every row.
        values: dict[str, Any] = {f: getattr(self.demographic, f) for f in DEMOGRAPHIC}
        values.update({f: getattr(self.geographic, f) for f in GEOGRAPHIC})
        values.update({f: getattr(self.psychographic, f) for f in PSYCHOGRAPHIC})
        values["preferences"] = list(self.psychographic.preferences)
        return values

    @classmethod
    def of(cls, c: Customer) -> Segmentation:
        return cls(
            demographic=Demographic(**{f: getattr(c, f) for f in DEMOGRAPHIC}),
            geographic=Geographic(**{f: getattr(c, f) for f in GEOGRAPHIC}),
            psychographic=Psychographic(**{f: getattr(c, f) for f in PSYCHOGRAPHIC}),
        )


CustomAttributes = dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], Any]


MAX_ATTRIBUTE_DEPTH = 8


def _depth(value: Any, limit: int) -> int:
    """How deep ``value`` nests, counting no further than ``limit`` + 1 (never a RecursionError)."""
    deepest, level = 0, [(value, 0)]
    while level:
        item, depth = level.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        if isinstance(item, dict):
            level += [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            level += [(v, depth + 1) for v in item]
    return deepest


def _small_attributes(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(value) > 100:
        raise ValueError("at most 100 custom attributes")
    # Deeper values could not be written back as JSON (a 500 after the fact): refused here.
    if value is not None and _depth(value, MAX_ATTRIBUTE_DEPTH) > MAX_ATTRIBUTE_DEPTH:
        raise ValueError(f"custom attributes nest at most {MAX_ATTRIBUTE_DEPTH} levels deep")
    return value


class CustomerCreate(BaseModel):
    # The example has no external_id (unique): Swagger UI's "Try it out" works more than once.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"kind": "person", "name": "Ada Lovelace", "email": "ada@example.com", "tags": ["newsletter"]}]
        },
    )

    kind: Literal["person", "organization"]
    name: Name
    email: Email | None = None
    phone: Phone | None = None
    owner_id: OwnerId | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    channels: list[Channel] = Field(default_factory=list, max_length=20)
    relation: Relation | None = None
    relationship_type: RelationshipType | None = None
    segmentation: Segmentation = Field(default_factory=Segmentation)
    custom_attributes: CustomAttributes = Field(
        default_factory=dict,
        json_schema_extra={"deprecated": True},
        description="Deprecated: custom_fields (typed, defined by admins)",
    )
    custom_fields: CustomFieldValues | None = None
    # The id in the system the customer came from (bulk import dedupes on it).
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    team_id: uuid.UUID | None = Field(
        default=None,
        description="the customer's team (managers only); by default the team whose territory matches the "
        "customer's country and region, if any",
    )

    _attrs = field_validator("custom_attributes")(_small_attributes)


class CustomerPatch(BaseModel):
    """Fields to change; absent ones stay. Status and value are facts, not typed by hand."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    owner_id: OwnerId | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)
    channels: list[Channel] | None = Field(default=None, max_length=20)
    relation: Relation | None = None
    relationship_type: RelationshipType | None = None
    segmentation: Segmentation | None = None
    custom_attributes: CustomAttributes | None = Field(
        default=None,
        json_schema_extra={"deprecated": True},
        description="Deprecated: custom_fields (typed, defined by admins)",
    )
    custom_fields: CustomFieldValues | None = None

    _attrs = field_validator("custom_attributes")(_small_attributes)

    @field_validator("name", "tags", "channels", "segmentation", "custom_attributes")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null")
        return value


class Value(BaseModel):
    lifecycle_stage: str | None
    tier: str | None
    purchase_count: int
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    lifetime_values: dict[str, Decimal]
    monetary: Decimal
    rfm_recency: int | None
    rfm_frequency: int | None
    rfm_monetary: int | None
    rfm_segment: str | None
    frequency_class: str | None
    churn_risk: int | None
    computed_at: datetime | None


def _cents(value: Decimal | str) -> Decimal:
    # Stored with 4 decimals on PostgreSQL, as given on SQLite: one shape on the wire.
    return Decimal(value).quantize(Decimal("0.01"))


class CustomerOut(BaseModel):
    id: uuid.UUID
    kind: str
    name: str
    email: str | None
    phone: str | None
    owner_id: str | None
    status: str
    tags: list[str]
    channels: list[Channel]
    relation: str | None
    relationship_type: str | None
    segmentation: Segmentation
    custom_attributes: dict[str, Any] = Field(
        json_schema_extra={"deprecated": True}, description="Deprecated: custom_fields"
    )
    custom_fields: dict[str, Any] = Field(default_factory=dict, description="typed custom field values by key")
    external_id: str | None
    team_id: uuid.UUID | None = None
    value: Value
    erased_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, c: Customer) -> CustomerOut:
        return cls(
            id=c.id,
            kind=c.kind,
            name=c.name,
            email=c.email,
            phone=c.phone,
            owner_id=c.owner_id,
            status=c.status,
            tags=c.tags,
            channels=[Channel(**ch) for ch in c.channels],
            relation=c.relation,
            relationship_type=c.relationship_type,
            segmentation=Segmentation.of(c),
            custom_attributes=c.custom_attributes,
            custom_fields=c.custom_fields,
            external_id=c.external_id,
            team_id=c.team_id,
            value=Value(
                lifecycle_stage=c.lifecycle_stage,
                tier=c.tier,
                purchase_count=c.purchase_count,
                first_purchase_at=c.first_purchase_at,
                last_purchase_at=c.last_purchase_at,
                lifetime_values={k: _cents(v) for k, v in c.lifetime_values.items()},
                monetary=_cents(c.monetary),
                rfm_recency=c.rfm_recency,
                rfm_frequency=c.rfm_frequency,
                rfm_monetary=c.rfm_monetary,
                rfm_segment=c.rfm_segment,
                frequency_class=c.frequency_class,
                churn_risk=c.churn_risk,
                computed_at=c.value_computed_at,
            ),
            erased_at=c.erased_at,
            created_at=c.created_at,
            updated_at=c.updated_at,
            version=c.version,
        )
