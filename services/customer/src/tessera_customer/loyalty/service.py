"""Points account: earning on paid invoices, redeeming with a reason; the balance never goes negative."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_customer.loyalty.models import LoyaltyAccount, LoyaltyEntry
from tessera_customer.loyalty.rules import balance_after_redemption, level_for, points_for
from tessera_customer.settings import CustomerSettings
from tessera_customer.timeline import service as timeline
from tessera_shared.db import affected_rows, utcnow
from tessera_shared.errors import Conflict
from tessera_shared.events.contracts import LoyaltyLevelChanged
from tessera_shared.http.pagination import PageParams, paginate
from tessera_shared.outbox import publish


async def account_of(
    session: AsyncSession, settings: CustomerSettings, customer_id: uuid.UUID, *, for_update: bool = False
) -> LoyaltyAccount:
    account = await session.get(LoyaltyAccount, customer_id, with_for_update=True if for_update else None)
    if account is None:
        account = LoyaltyAccount(customer_id=customer_id, level=level_for(0, settings.loyalty_levels)[0])
        session.add(account)
        await session.flush()
    return account


async def peek_account(session: AsyncSession, settings: CustomerSettings, customer_id: uuid.UUID) -> LoyaltyAccount:
    """The account as read, or an unsaved empty one at the first level (reading creates nothing)."""
    return await session.get(LoyaltyAccount, customer_id) or LoyaltyAccount(
        customer_id=customer_id, level=level_for(0, settings.loyalty_levels)[0], balance=0, earned_total=0, version=0
    )


async def entries_page(
    session: AsyncSession, customer_id: uuid.UUID, page: PageParams
) -> tuple[list[LoyaltyEntry], str | None]:
    """One page of the statement, newest first."""
    stmt = select(LoyaltyEntry).where(col(LoyaltyEntry.customer_id) == customer_id)
    return await paginate(session, stmt, page, (col(LoyaltyEntry.id),), descending=True)


async def earn_points(
    session: AsyncSession,
    settings: CustomerSettings,
    customer_id: uuid.UUID,
    *,
    invoice_id: uuid.UUID,
    number: str,
    amount: Decimal,
    currency: str,
    at: datetime,
) -> int:
    """Points for one paid invoice, once (the entry's ref is unique per invoice)."""
    ref = f"invoice:{invoice_id}"
    if await session.scalar(select(col(LoyaltyEntry.id)).where(col(LoyaltyEntry.ref) == ref)) is not None:
        return 0
    points = points_for(amount, currency, settings.loyalty_rates, settings.loyalty_points_per_unit)
    if points == 0:
        return 0
    account = await account_of(session, settings, customer_id, for_update=True)
    account.balance += points
    account.earned_total += points
    await settle_level(session, settings, account)
    account.version += 1
    account.updated_at = utcnow()
    session.add(
        LoyaltyEntry(
            customer_id=customer_id,
            kind="earn",
            points=points,
            balance_after=account.balance,
            reason=f"invoice {number} paid",
            ref=ref,
            created_at=at,
        )
    )
    return points


async def settle_level(session: AsyncSession, settings: CustomerSettings, account: LoyaltyAccount) -> None:
    """Give the account the level its earned total reaches; a move is announced (``loyalty.level_changed``)
    so billing discounts the customer's next invoices from won deals by the new rate (docs/domain.md §10.5)."""
    level, discount = level_for(account.earned_total, settings.loyalty_levels)
    if level == account.level:
        return
    before, account.level = account.level, level
    await publish(
        session,
        LoyaltyLevelChanged(
            customer_id=account.customer_id,
            from_level=before,
            to_level=level,
            discount_percent=discount,
            earned_total=account.earned_total,
            changed_at=utcnow(),
        ),
        subject=account.customer_id,
    )


async def redeem_points(
    session: AsyncSession, settings: CustomerSettings, customer_id: uuid.UUID, *, points: int, reason: str, actor: str
) -> LoyaltyAccount:
    account = await account_of(session, settings, customer_id, for_update=True)
    if balance_after_redemption(account.balance, points) is None:
        raise Conflict(
            f"cannot redeem {points} points from a balance of {account.balance}",
            kind="insufficient-points",
            balance=account.balance,
        )
    # Guarded in SQL too: two concurrent redemptions cannot both pass the check above.
    redeemed = await affected_rows(
        session,
        update(LoyaltyAccount)
        .where(col(LoyaltyAccount.customer_id) == customer_id, col(LoyaltyAccount.balance) >= points)
        .values(
            balance=col(LoyaltyAccount.balance) - points,
            version=col(LoyaltyAccount.version) + 1,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False),
    )
    if redeemed != 1:
        raise Conflict("the balance changed; not enough points", kind="insufficient-points")
    await session.refresh(account)
    session.add(
        LoyaltyEntry(
            customer_id=customer_id,
            kind="redeem",
            points=-points,
            balance_after=account.balance,
            reason=reason,
            actor=actor,
        )
    )
    timeline.record(session, customer_id, "loyalty.redeemed", f"{points} points redeemed: {reason}")
    return account


async def redeem_for_invoice(
    session: AsyncSession,
    settings: CustomerSettings,
    customer_id: uuid.UUID,
    *,
    request_id: uuid.UUID,
    number: str,
    points: int,
) -> tuple[bool, int]:
    """Billing's request to pay invoice ``number`` with points: (redeemed, balance after).

    Once per request (the entry's ref ``loyalty-payment:<request>`` is unique); a short balance
    redeems nothing and is answered as a refusal, never a partial redemption."""
    ref = f"loyalty-payment:{request_id}"
    account = await account_of(session, settings, customer_id, for_update=True)
    if await session.scalar(select(col(LoyaltyEntry.id)).where(col(LoyaltyEntry.ref) == ref)) is not None:
        return True, account.balance
    after = balance_after_redemption(account.balance, points)
    if after is None:
        return False, account.balance
    account.balance = after
    account.version += 1
    account.updated_at = utcnow()
    session.add(
        LoyaltyEntry(
            customer_id=customer_id,
            kind="redeem",
            points=-points,
            balance_after=after,
            reason=f"paid towards invoice {number}",
            ref=ref,
            actor="billing",
        )
    )
    return True, after


async def restore_points(
    session: AsyncSession,
    settings: CustomerSettings,
    customer_id: uuid.UUID,
    *,
    request_id: uuid.UUID,
    number: str,
    points: int,
    reason: str,
) -> int:
    """Give back the points of a loyalty payment billing reversed, once (ref ``loyalty-reversal:<request>``);
    the earned total, and so the level, does not change. Returns the points given back."""
    ref = f"loyalty-reversal:{request_id}"
    if await session.scalar(select(col(LoyaltyEntry.id)).where(col(LoyaltyEntry.ref) == ref)) is not None:
        return 0
    account = await account_of(session, settings, customer_id, for_update=True)
    account.balance += points
    account.version += 1
    account.updated_at = utcnow()
    session.add(
        LoyaltyEntry(
            customer_id=customer_id,
            kind="restore",
            points=points,
            balance_after=account.balance,
            reason=f"invoice {number}: payment reversed ({reason})"[:300],
            ref=ref,
            actor="billing",
        )
    )
    return points
