"""Allocation of a payment to open invoices, without I/O."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tessera_billing.money import ZERO
from tessera_shared.errors import InvalidInput


@dataclass(frozen=True)
class OpenItem:
    invoice_id: uuid.UUID
    due_date: date
    issue_date: date
    number: str
    open_amount: Decimal


@dataclass(frozen=True)
class Allocation:
    invoice_id: uuid.UUID
    amount: Decimal


class AllocationError(InvalidInput):
    """Allocations the open items refuse (422 naming the allocation's field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message)
        self.field = field


def oldest_first(items: Sequence[OpenItem], amount: Decimal) -> tuple[list[Allocation], Decimal]:
    """Settle the oldest debt first (earliest due date); the rest stays as customer credit."""
    left = amount
    out: list[Allocation] = []
    for item in sorted(items, key=lambda i: (i.due_date, i.issue_date, i.number)):
        if left <= ZERO:
            break
        take = min(left, item.open_amount)
        if take > ZERO:
            out.append(Allocation(item.invoice_id, take))
            left -= take
    return out, left


def explicit(
    items: Sequence[OpenItem], requested: Sequence[Allocation], amount: Decimal
) -> tuple[list[Allocation], Decimal]:
    """Allocate as the payer said; never more than is open, never more than was paid."""
    by_id = {i.invoice_id: i for i in items}
    seen: set[uuid.UUID] = set()
    for n, alloc in enumerate(requested):
        field = f"allocations.{n}"
        if alloc.invoice_id in seen:
            raise AllocationError(f"{field}.invoice_id", "invoice named twice")
        seen.add(alloc.invoice_id)
        item = by_id.get(alloc.invoice_id)
        if item is None:
            raise AllocationError(f"{field}.invoice_id", "not an open invoice of this customer in this currency")
        if alloc.amount > item.open_amount:
            raise AllocationError(f"{field}.amount", f"more than the {item.open_amount} open on {item.number}")
    allocated = sum((a.amount for a in requested), ZERO)
    if allocated > amount:
        raise AllocationError("allocations", f"allocations add up to {allocated}, more than the payment {amount}")
    return list(requested), amount - allocated
