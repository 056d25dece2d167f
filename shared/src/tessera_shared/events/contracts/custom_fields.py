"""Custom field definitions (issue 24 part 2), published by the service owning the entity.

``custom_field.created`` and ``custom_field.updated`` travel on the owner's own topic
(``crm.customer`` for customer and contact fields, ``crm.sales`` for deal and lead fields,
``crm.service-desk`` for ticket fields), keyed by the definition id ``<entity>.<key>``. The
registered class names the sales service as its producer; the other two publish the same type
through ``for_producer`` (same schema, their own ``source`` and topic).
"""

from __future__ import annotations

import builtins
from datetime import datetime
from functools import cache
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from tessera_shared.events.envelope import EventData

CustomFieldEntity = Literal["customer", "contact", "deal", "lead", "ticket"]
CustomFieldType = Literal["text", "number", "money", "date", "boolean", "enum", "multi_enum", "user"]
# Which service owns (defines, stores, publishes) each entity's custom fields.
CUSTOM_FIELD_OWNERS: dict[str, str] = {
    "customer": "customer",
    "contact": "customer",
    "deal": "sales",
    "lead": "sales",
    "ticket": "service-desk",
}


class CustomFieldOption(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    value: str
    label: str


class CustomFieldDefinitionData(EventData):
    """A custom field definition's whole state (every event carries it)."""

    producer: ClassVar[str] = "sales"
    producers: ClassVar[tuple[str, ...]] = ("customer", "sales", "service-desk")

    id: str = Field(description="`<entity>.<key>`, e.g. `deal.industry`")
    entity: CustomFieldEntity
    key: str
    label: str
    type: CustomFieldType
    options: list[CustomFieldOption] = Field(default_factory=list)
    required: bool = False
    unique: bool = False
    personal: bool = False
    description: str | None = None
    archived_at: datetime | None = None
    version: int = Field(ge=1)
    updated_by: str
    updated_at: datetime

    @classmethod
    def for_producer(cls, producer: str) -> builtins.type[CustomFieldDefinitionData]:
        """The same event type published by ``producer`` (its topic and source)."""
        return _as_producer(cls, producer)


@cache
def _as_producer(cls: type[CustomFieldDefinitionData], producer: str) -> type[CustomFieldDefinitionData]:
    if producer == cls.producer:
        return cls
    if producer not in cls.producers:
        raise ValueError(f"{producer} does not publish {cls.event_type}")
    # No ``event_type`` of its own: not registered again, it inherits the type and the schema.
    name = f"{cls.__name__}From{producer.title().replace('-', '')}"
    made: type[CustomFieldDefinitionData] = type(name, (cls,), {"producer": producer})
    return made


class CustomFieldCreated(CustomFieldDefinitionData):
    event_type: ClassVar[str] = "custom_field.created"


class CustomFieldUpdated(CustomFieldDefinitionData):
    """Label, options, required, unique, personal, description changed, or archived (type and key never change)."""

    event_type: ClassVar[str] = "custom_field.updated"
