"""Amounts, prices and quantities in the event contracts are never negative (docs/domain.md §10.2):
a consumer refuses such a fact at its door (a ValidationError: the runner's DLQ path), and the
published schema says the same (the pattern has no minus sign)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import orjson
import pytest
from pydantic import ValidationError

from tessera_shared.events.contracts import DealWon, InvoiceIssued, PaymentReceived


def deal_won_json(amount: str = "500.00", unit_price: str = "500.00", quantity: str = "1") -> bytes:
    return orjson.dumps(
        {
            "deal_id": str(uuid.uuid4()),
            "customer_id": str(uuid.uuid4()),
            "title": "x",
            "amount": amount,
            "currency": "EUR",
            "line_items": [{"description": "Seat", "quantity": quantity, "unit_price": unit_price}],
            "won_at": "2026-03-01T00:00:00Z",
        }
    )


def test_a_deal_won_with_non_negative_figures_is_read() -> None:
    won = DealWon.model_validate_json(deal_won_json(amount="0", unit_price="0"))
    assert won.amount == Decimal(0)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": "-500.00"}, "amount"),
        ({"unit_price": "-1.00"}, "unit_price"),
        ({"quantity": "-1"}, "quantity"),
        ({"quantity": "0"}, "quantity"),
    ],
)
def test_a_negative_deal_won_is_refused(overrides: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        DealWon.model_validate_json(deal_won_json(**overrides))
    assert field in {str(loc) for e in refused.value.errors() for loc in e["loc"]}


def test_billing_amounts_are_bounded_too() -> None:
    for model, field in ((InvoiceIssued, "total"), (PaymentReceived, "amount"), (PaymentReceived, "unallocated")):
        pattern = model.model_json_schema()["properties"][field]["pattern"]
        assert not pattern.startswith("^-"), (model.__name__, field, pattern)
