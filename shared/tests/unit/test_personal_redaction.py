"""Personal fields are declared once, in the contracts, and redaction nulls exactly those."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import BaseModel

from tessera_shared.events import build_event
from tessera_shared.events.contracts import ContactChanges, ContactUpdated, CustomerCreated, DealWon, LineItem
from tessera_shared.events.envelope import registered_event_types
from tessera_shared.events.redaction import (
    REDACTION_ATTRIBUTE,
    _models_in,
    personal_fields,
    redact_personal,
    redacted,
)
from tessera_shared.events.schemas import all_schemas

# A field whose name says it names, reaches or describes a person, or holds free text about one.
LOOKS_PERSONAL = re.compile(
    r"(^|_)(name|first_name|last_name|email|e_mail|phone|mobile|address|street|postal_code|birth|title"
    r"|department|notes?|comment|subject|description|body|message)$"
)
# Fields with such a name that are not personal, and why.
NOT_PERSONAL = {
    ("api_key.created", "name"): "an API key's label, chosen by an admin",
    ("notification_rule.created", "name"): "a routing rule's label",
    ("notification_preferences.updated", "items.email"): "a yes/no choice of the e-mail channel",
    ("custom_field.created", "description"): "a custom field's help text, written by an admin",
    ("custom_field.updated", "description"): "a custom field's help text, written by an admin",
    **{
        (t, f): "a sales pipeline's or its stage's label, set by a manager"
        for t in ("deal.created", "deal.lost", "deal.stage_changed", "deal.won")
        for f in ("pipeline_name", "stage_name")
    },
    **{
        (t, f): "a sales pipeline's or its stage's label"
        for t in ("pipeline.created", "pipeline.updated")
        for f in ("name", "stages.name")
    },
    **{(t, "name"): "a team's name, an organisational unit" for t in ("team.created", "team.updated", "team.deleted")},
}


def _fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        out.append(f"{prefix}{name}")
        for nested in _models_in(field.annotation):
            out += _fields(nested, f"{prefix}{name}.")
    return out


def test_every_field_named_like_personal_data_is_marked() -> None:
    unmarked = []
    for event_type, model in sorted(registered_event_types().items()):
        marked = set(personal_fields(model))
        for path in _fields(model):
            leaf = path.rsplit(".", 1)[-1]
            if LOOKS_PERSONAL.search(leaf) and path not in marked and (event_type, path) not in NOT_PERSONAL:
                unmarked.append(f"{event_type}: {path}")
    assert unmarked == [], "mark these Personal (contracts) or list them in NOT_PERSONAL with a reason"


def test_the_published_schemas_carry_the_mark() -> None:
    schemas = all_schemas()
    created = schemas["customer.created"]["properties"]
    assert created["email"]["x-personal"] is True
    assert created["name"]["x-personal"] is True
    assert "x-personal" not in created["customer_id"]
    # Nested: the line items' description, in the referenced definition.
    assert schemas["deal.won"]["$defs"]["LineItem"]["properties"]["description"]["x-personal"] is True
    assert "x-personal" not in schemas["deal.won"]["$defs"]["LineItem"]["properties"]["quantity"]


def test_company_names_and_staff_ids_are_not_personal() -> None:
    assert "changes.company" not in personal_fields(registered_event_types()["lead.updated"])
    assert "owner_id" not in personal_fields(CustomerCreated)


def test_redaction_nulls_the_personal_values_and_keeps_the_rest() -> None:
    data = CustomerCreated(
        customer_id=uuid.uuid4(),
        kind="person",
        name="Ada Lovelace",
        email="ada@example.com",
        owner_id="alice",
        status="prospect",
        created_at=datetime.now(UTC),
    ).model_dump(mode="json")
    out = redact_personal("customer.created", data)
    assert out["name"] is None and out["email"] is None and out["custom_fields"] is None
    personal = ("name", "email", "custom_fields")
    assert {k: v for k, v in out.items() if k not in personal} == {k: v for k, v in data.items() if k not in personal}
    assert data["email"] == "ada@example.com"  # the input is not changed


def test_redaction_reaches_nested_models_and_lists() -> None:
    won = DealWon(
        deal_id=uuid.uuid4(),
        customer_id=uuid.uuid4(),
        title="Roof for Mr. Smith",
        amount=Decimal("10"),
        currency="EUR",
        line_items=[
            LineItem(product_code="P1", description="for Mr. Smith", quantity=Decimal(1), unit_price=Decimal(10))
        ],
        won_at=datetime.now(UTC),
    ).model_dump(mode="json")
    out = redact_personal("deal.won", won)
    assert out["title"] is None
    assert out["line_items"][0]["description"] is None
    assert out["line_items"][0]["product_code"] == "P1"
    assert out["amount"] == won["amount"]


def test_a_change_set_keeps_naming_what_changed() -> None:
    updated = ContactUpdated(
        contact_id=uuid.uuid4(),
        customer_id=uuid.uuid4(),
        changes=ContactChanges(email="new@example.com", buying_role="user"),
        version=2,
        updated_at=datetime.now(UTC),
    )
    out = redact_personal("contact.updated", updated.model_dump(mode="json"))
    assert out["changes"] == {"email": None, "buying_role": "user"}


def test_a_redacted_envelope_says_so_and_keeps_its_attributes() -> None:
    data = CustomerCreated(
        customer_id=uuid.uuid4(),
        kind="person",
        name="Ada",
        email="ada@example.com",
        status="prospect",
        created_at=datetime.now(UTC),
    )
    event = build_event(data, subject=data.customer_id)
    out = redacted(event)
    body = out.to_json()
    assert b"ada@example.com" not in body and b"Ada" not in body
    dumped = out.model_dump(mode="json")
    assert dumped[REDACTION_ATTRIBUTE] == "personal"
    assert (out.id, out.type, out.subject, out.time) == (event.id, event.type, event.subject, event.time)
    assert event.data["email"] == "ada@example.com"


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(LookupError):
        redact_personal("no.such_type", {"email": "x@example.com"})


def test_custom_field_values_never_reach_a_partner() -> None:
    """A custom field may be defined personal, and the values travel as one object: redaction nulls
    the object in every event that carries it (records' created and updated, change sets too)."""
    carrying = [
        (event_type, path)
        for event_type, model in sorted(registered_event_types().items())
        for path in _fields(model)
        if path.rsplit(".", 1)[-1] == "custom_fields"
    ]
    assert len(carrying) >= 8  # customer, contact, deal, lead, ticket: created and updated
    unmarked = [f"{t}: {p}" for t, p in carrying if p not in personal_fields(registered_event_types()[t])]
    assert unmarked == []
    data = CustomerCreated(
        customer_id=uuid.uuid4(),
        kind="person",
        name="Ada",
        status="prospect",
        created_at=datetime.now(UTC),
        custom_fields={"birthday": "1815-12-10", "segment": "gold"},
    ).model_dump(mode="json")
    out = redact_personal("customer.created", data)
    assert out["custom_fields"] is None and out["customer_id"] == data["customer_id"]
