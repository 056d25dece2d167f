"""The daily digest: notifications a user asked to receive by e-mail once a day (preference
``digest: daily``) are kept as digest items and sent as one e-mail per user and day by the
``notifications-digest`` job, once per ``DIGEST_INTERVAL_SECONDS`` (a day) across replicas (the
job's lease and its rounds recorded in the database): one e-mail per user with waiting items."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from tessera_notifications.directory import UserDirectory
from tessera_notifications.email.models import DigestItem
from tessera_notifications.email.service import Outgoing, enqueue
from tessera_notifications.settings import NotificationsSettings
from tessera_shared.db import dialect_name, table_of, unit_of_work, upsert, utcnow


async def keep_for_digest(
    session: AsyncSession,
    *,
    user_id: str,
    type: str,
    title: str,
    body: str,
    link: str | None,
    customer_id: object,
    source_event_id: str,
) -> None:
    stmt = upsert(session, table_of(DigestItem)).values(
        user_id=user_id,
        type=type,
        title=title,
        body=body,
        link=link,
        customer_id=customer_id,
        source_event_id=source_event_id,
        created_at=utcnow(),
    )
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["user_id", "source_event_id"]))


async def send_digests(
    sessions: async_sessionmaker[AsyncSession], now: datetime, settings: NotificationsSettings, directory: UserDirectory
) -> int:
    """One digest e-mail per user with waiting items (written for the sender job); the items go."""
    day = now.date().isoformat()
    written = 0
    async with unit_of_work(sessions) as session:
        stmt = select(DigestItem).where(col(DigestItem.created_at) <= now).order_by(col(DigestItem.created_at))
        if dialect_name(session) == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        items = list((await session.execute(stmt)).scalars())
        by_user: dict[str, list[DigestItem]] = defaultdict(list)
        for item in items:
            by_user[item.user_id].append(item)
        base = settings.public_url.rstrip("/")
        for user_id, mine in by_user.items():
            profile = directory.get(user_id)
            if profile is not None and profile.email:
                await enqueue(
                    session,
                    Outgoing(
                        template="digest",
                        recipient_kind="user",
                        recipient=user_id,
                        to_address=profile.email,
                        locale=profile.locale,
                        subject={"en": f"Tessera: {len(mine)} notifications", "zh": f"Tessera {len(mine)} 条通知"}[
                            profile.locale
                        ],
                        values={
                            "items": [
                                {"title": i.title, "body": i.body, "url": f"{base}{i.link}" if i.link else None}
                                for i in mine
                            ],
                            "preferences_url": f"{base}/api/v1/notification-preferences",
                        },
                        customer_id=None,
                        source_type="digest",
                        # One digest per user and day: a second round the same day adds a new
                        # message only for items that arrived after the first.
                        source_event_id=f"digest:{day}:{mine[-1].id}",
                    ),
                    settings,
                )
                written += 1
            await session.execute(delete(DigestItem).where(col(DigestItem.id).in_([i.id for i in mine])))
    return written
