"""The member discount on invoices from won deals (docs/domain.md §10.5)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_billing.invoices.rules import LineInput, line_amounts
from tessera_billing.invoices.service import LineSpec
from tessera_billing.loyalty.models import MemberLevel
from tessera_billing.loyalty.rules import member_discount_lines
from tessera_billing.loyalty.service import member_level
from tessera_billing.settings import BillingSettings


async def with_member_discount(
    session: AsyncSession, settings: BillingSettings, customer_id: uuid.UUID, lines: Sequence[LineSpec], currency: str
) -> list[LineSpec]:
    """``lines`` and, when the customer's member level (as billing last heard it) has a discount,
    the negative lines that take it off: the level's rate of the lines' nets, per tax rate."""
    return member_discounted(settings, await member_level(session, customer_id), lines, currency)


def member_discounted(
    settings: BillingSettings, level: MemberLevel | None, lines: Sequence[LineSpec], currency: str
) -> list[LineSpec]:
    """``with_member_discount`` for a level already read (a run of deal.won reads its customers' at once)."""
    if level is None:
        return list(lines)
    nets = []
    for spec in lines:
        tax = settings.default_tax_rate_percent if spec.tax_rate_percent is None else spec.tax_rate_percent
        amounts = line_amounts(LineInput(spec.quantity, spec.unit_price, spec.discount_percent, tax), currency)
        nets.append((amounts.net, tax))
    discounts = member_discount_lines(level.level, level.discount_percent, nets, currency)
    return [
        *lines,
        *(
            LineSpec(
                description=d.description,
                quantity=Decimal(1),
                unit_price=d.net,
                tax_rate_percent=d.tax_rate_percent,
                member_discount_percent=d.rate,
            )
            for d in discounts
        ),
    ]
