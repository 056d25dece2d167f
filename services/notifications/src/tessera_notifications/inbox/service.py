"""A user's inbox: adding (with the user's next sequence number), reading, marking read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_notifications.inbox.models import Notification, UserSequence
from tessera_shared.db import new_id, table_of, upsert, utcnow
from tessera_shared.errors import NotFound
from tessera_shared.events.contracts.notifications import NotificationRead
from tessera_shared.http.pagination import PageParams, paginate
from tessera_shared.outbox import publish

Order = Literal["unread_first", "newest"]


async def next_seq(session: AsyncSession, user_id: str) -> int:
    """The user's next sequence number. The row stays locked until the transaction ends, so one
    user's notifications commit in the order of their numbers (a stream resuming after n misses none)."""
    table = table_of(UserSequence)
    stmt = upsert(session, table).values(user_id=user_id, last_seq=1)
    stmt = stmt.on_conflict_do_update(index_elements=["user_id"], set_={"last_seq": table.c.last_seq + 1})
    seq: int = (await session.execute(stmt.returning(table.c.last_seq))).scalar_one()
    return seq


@dataclass(frozen=True)
class Added:
    id: uuid.UUID
    seq: int
    created_at: datetime


async def add_notification(
    session: AsyncSession,
    *,
    user_id: str,
    type: str,
    title: str,
    body: str,
    link: str | None,
    customer_id: uuid.UUID | None,
    source_event_id: str,
    rule_id: uuid.UUID | None,
) -> Added | None:
    """The new inbox row, or None when the user already has one for this fact (its number is then
    skipped: the numbers only have to grow)."""
    table = table_of(Notification)
    added = Added(new_id(), await next_seq(session, user_id), utcnow())
    values = {
        "id": added.id,
        "user_id": user_id,
        "seq": added.seq,
        "type": type,
        "title": title,
        "body": body,
        "link": link,
        "customer_id": customer_id,
        "source_event_id": source_event_id,
        "rule_id": rule_id,
        "unread": True,
        "created_at": added.created_at,
    }
    stmt = upsert(session, table).values(**values)
    stmt = stmt.on_conflict_do_nothing(index_elements=["user_id", "source_event_id"]).returning(table.c.id)
    if (await session.execute(stmt)).first() is None:
        return None
    return added


async def page_of_notifications(
    session: AsyncSession,
    user_id: str,
    params: PageParams,
    *,
    order: Order,
    read: bool | None,
    types: list[str],
) -> tuple[list[Notification], str | None]:
    stmt = select(Notification).where(col(Notification.user_id) == user_id)
    if read is not None:
        stmt = stmt.where(col(Notification.unread).is_(not read))
    if types:
        stmt = stmt.where(col(Notification.type).in_(types))
    keys = (col(Notification.unread), col(Notification.seq)) if order == "unread_first" else (col(Notification.seq),)
    return await paginate(session, stmt, params, keys, descending=True)


async def own_notification(session: AsyncSession, user_id: str, notification_id: uuid.UUID) -> Notification:
    """The user's notification; another user's is as unknown as a missing one."""
    notification = await session.get(Notification, notification_id)
    if notification is None or notification.user_id != user_id:
        raise NotFound("notification", notification_id)
    return notification


async def mark_read(session: AsyncSession, notification: Notification, now: datetime | None = None) -> Notification:
    """Mark it read and announce ``notification.read`` (nothing when it was read already)."""
    if notification.unread:
        notification.unread = False
        notification.read_at = now or utcnow()
        await session.flush()
        await publish(
            session,
            NotificationRead(
                user_id=notification.user_id,
                notification_id=notification.id,
                through_seq=notification.seq,
                marked=1,
                read_at=notification.read_at,
            ),
            subject=notification.id,
            key=notification.user_id,
        )
    return notification


async def mark_all_read(session: AsyncSession, user_id: str, now: datetime | None = None) -> int:
    """Mark every unread one read; one ``notification.read`` for them all (none when none was)."""
    read_at = now or utcnow()
    marked = (
        await session.execute(
            update(Notification)
            .where(col(Notification.user_id) == user_id, col(Notification.unread))
            .values(unread=False, read_at=read_at)
            .returning(col(Notification.seq))
        )
    ).scalars()
    numbers = list(marked)
    if numbers:
        await publish(
            session,
            NotificationRead(user_id=user_id, through_seq=max(numbers), marked=len(numbers), read_at=read_at),
            subject=user_id,
            key=user_id,
        )
    return len(numbers)


async def unread_count(session: AsyncSession, user_id: str) -> int:
    count = await session.execute(
        select(func.count()).where(col(Notification.user_id) == user_id, col(Notification.unread))
    )
    return int(count.scalar_one())


async def after_seq(session: AsyncSession, user_id: str, seq: int, limit: int = 100) -> list[Notification]:
    """The user's notifications numbered above ``seq``, in order (the live stream's next lines)."""
    rows = await session.execute(
        select(Notification)
        .where(col(Notification.user_id) == user_id, col(Notification.seq) > seq)
        .order_by(col(Notification.seq))
        .limit(limit)
    )
    return list(rows.scalars())


async def last_seq(session: AsyncSession, user_id: str) -> int:
    found = await session.execute(select(func.max(col(Notification.seq))).where(col(Notification.user_id) == user_id))
    return int(found.scalar() or 0)
