"""apply_patch compares only the record fields a PATCH's given fields may change: every field of
CustomerPatch names what it may change, and together they cover RECORD_FIELDS."""

from __future__ import annotations

from tessera_customer.customers.schemas import CustomerPatch
from tessera_customer.customers.service import _TOUCHES, RECORD_FIELDS, _touched


def test_every_patch_field_names_the_record_fields_it_may_change() -> None:
    assert set(_TOUCHES) == set(CustomerPatch.model_fields)
    assert {f for fields in _TOUCHES.values() for f in fields} == set(RECORD_FIELDS)


def test_touched_keeps_the_record_fields_order() -> None:
    assert _touched(set(CustomerPatch.model_fields)) == RECORD_FIELDS
    assert _touched({"tags", "name"}) == ("name", "tags")
    assert _touched({"custom_fields"}) == ("custom_attributes", "custom_fields")
    assert _touched(set()) == ()
