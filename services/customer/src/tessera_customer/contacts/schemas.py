from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tessera_customer.customers.schemas import Name, Phone
from tessera_shared.custom_fields import CustomFieldValues
from tessera_shared.emails import Email
from tessera_shared.http.inputs import Trim

Text = Annotated[str, Trim(min_length=1, max_length=200)]
BuyingRole = Literal["decision_maker", "influencer", "user", "gatekeeper"]


class ContactCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Charles Babbage", "title": "CTO", "email": "charles@example.com"}]},
    )

    name: Name
    title: Text | None = None
    department: Text | None = None
    email: Email | None = None
    phone: Phone | None = None
    buying_role: BuyingRole | None = None
    custom_fields: CustomFieldValues | None = None


class ContactPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    title: Text | None = None
    department: Text | None = None
    email: Email | None = None
    phone: Phone | None = None
    buying_role: BuyingRole | None = None
    custom_fields: CustomFieldValues | None = None

    @field_validator("name")
    @classmethod
    def _not_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("may not be null")
        return value


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID
    name: str
    title: str | None
    department: str | None
    email: str | None
    phone: str | None
    buying_role: str | None
    custom_fields: dict[str, Any] = Field(default_factory=dict, description="typed custom field values by key")
    created_at: datetime
    updated_at: datetime
    version: int
