"""Decimal strings: the published pattern and the model accept and refuse the same values."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from tessera_shared.decimals import Amount, MoneyIn, Percent, PositiveMoneyIn, Quantity, decimal_string
from tessera_shared.money import amount_limit, fits

TYPES = {
    "Amount": Amount,
    "MoneyIn": MoneyIn,
    "PositiveMoneyIn": PositiveMoneyIn,
    "Quantity": Quantity,
    "Percent": Percent,
    "Small": decimal_string(max_digits=3, decimal_places=0, sign="positive"),
}

EDGES = [
    "0",
    "-0",
    "0.0",
    "0.0000",
    "0.00000",
    "0.0001",
    "0.00001",
    "1",
    "-1",
    "1.5",
    "1.50000",
    "99.9999",
    "100",
    "100.0",
    "100.0000",
    "100.00001",
    "100.0001",
    "101",
    "999",
    "1000",
    "9999999999",
    "10000000000",
    "9999999999.9999",
    "99999999999999",
    "99999999999999.9999",
    "100000000000000",
    "9999999999999999",
    "9999999999999999.9999",
    "10000000000000000",
    "99999999999999999999",
    "1e3",
    "1E+3",
    "007",
    "00",
    "+1",
    " 1",
    "1 ",
    "1.",
    ".5",
    "-.5",
    "NaN",
    "Infinity",
    "-",
    "",
    "1,5",
    "١",  # noqa: RUF001 - an Arabic-Indic digit one, on purpose
    "0x10",
    "1_000",
]


def model_accepts(adapter: TypeAdapter, value: object) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("name", TYPES)
def test_the_pattern_is_the_models_rule_for_strings(name: str) -> None:
    adapter = TypeAdapter(TYPES[name])
    schema = adapter.json_schema()
    assert schema["type"] == "string"
    pattern = re.compile(schema["pattern"])
    for value in EDGES:
        assert bool(pattern.search(value)) == model_accepts(adapter, value), (name, value)


@pytest.mark.parametrize("name", TYPES)
def test_json_numbers_are_refused_not_rounded(name: str) -> None:
    adapter = TypeAdapter(TYPES[name])
    values: tuple[object, ...] = (1, 0.1, 1.5, 10**30, True, None, [], {})
    for value in values:
        assert not model_accepts(adapter, value), (name, value)
    with pytest.raises(ValidationError, match="decimal string"):
        adapter.validate_json("0.1")


def test_the_old_input_types_were_number_or_string() -> None:
    """Before: money inputs were ``number | string`` and took a float (the defect, kept as a record)."""
    from typing import Annotated

    from pydantic import Field

    old = TypeAdapter(Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)])
    assert old.validate_python(0.1) == Decimal("0.1")
    assert "anyOf" in old.json_schema()
    assert TypeAdapter(MoneyIn).json_schema()["type"] == "string"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(sorted(TYPES)))
def test_generated_values_agree(data: st.DataObject, name: str) -> None:
    adapter = TypeAdapter(TYPES[name])
    pattern = adapter.json_schema()["pattern"]
    valid = data.draw(st.from_regex(pattern, fullmatch=True), label="valid")
    assert model_accepts(adapter, valid), valid
    assert Decimal(adapter.dump_python(adapter.validate_python(valid), mode="json")) == Decimal(valid)
    anything = data.draw(st.from_regex(r"\A-?\d{0,22}(\.\d{0,7})?\Z") | st.text(max_size=12), label="any")
    assert bool(re.search(pattern, anything)) == model_accepts(adapter, anything), anything


def test_written_values_match_the_published_pattern() -> None:
    for name, kind in TYPES.items():
        adapter = TypeAdapter(kind)
        pattern = re.compile(adapter.json_schema()["pattern"])
        for value in (Decimal("-0"), Decimal("1.50000"), Decimal("1E+2"), Decimal("0E-7"), Decimal("12.3400")):
            if model_accepts(adapter, value):
                written = adapter.dump_python(adapter.validate_python(value), mode="json")
                assert pattern.search(written), (name, value, written)


def test_amount_limits_keep_minor_units_within_bigint() -> None:
    for currency in ("EUR", "JPY", "KWD", "CLF"):
        limit = amount_limit(currency)
        assert not fits(limit, currency) and fits(limit - Decimal("0.0001"), currency)
        largest_minor = int((limit - 1).scaleb(4 if currency == "CLF" else 0))
        assert largest_minor * 100 < 2**63  # sales: amount_minor x probability
