"""Unsubscribe links: each customer e-mail whose purpose a customer may refuse carries one; the
link's token (an HMAC of customer and purpose with the service's key) is the credential, so a
customer without an account can use it through the gateway's public route."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_notifications.email.models import EmailOptOut
from tessera_notifications.settings import NotificationsSettings
from tessera_shared.db import table_of, upsert, utcnow
from tessera_shared.errors import Forbidden
from tessera_shared.events.contracts import CustomerMerged
from tessera_shared.events.contracts.notifications import EmailUnsubscribed
from tessera_shared.outbox import publish

# Purposes a customer may refuse. Dunning letters are not among them: they are about the account.
Purpose = Literal["surveys"]
PURPOSES: tuple[str, ...] = ("surveys",)


def _key(settings: NotificationsSettings) -> bytes:
    secret = settings.unsubscribe_secret or settings.jwt_signing_key
    return hmac.new(secret.get_secret_value().encode(), b"tessera-unsubscribe-v1", hashlib.sha256).digest()


def token_for(settings: NotificationsSettings, customer_id: uuid.UUID, purpose: str) -> str:
    return hmac.new(_key(settings), f"{customer_id}:{purpose}".encode(), hashlib.sha256).hexdigest()[:32]


def link_for(settings: NotificationsSettings, customer_id: uuid.UUID, purpose: str) -> str:
    token = token_for(settings, customer_id, purpose)
    return f"{settings.public_url.rstrip('/')}/api/v1/email-unsubscribe/{customer_id}/{purpose}?token={token}"


def check_token(settings: NotificationsSettings, customer_id: uuid.UUID, purpose: str, token: str) -> None:
    if not hmac.compare_digest(token_for(settings, customer_id, purpose), token):
        raise Forbidden("this unsubscribe link is not valid")


async def opt_out(session: AsyncSession, customer_id: uuid.UUID, purpose: str) -> bool:
    """Record the refusal; True when it is new (then ``email.unsubscribed`` is announced)."""
    stmt = upsert(session, table_of(EmailOptOut)).values(customer_id=customer_id, purpose=purpose)
    done = await session.execute(stmt.on_conflict_do_nothing(index_elements=["customer_id", "purpose"]))
    return bool(getattr(done, "rowcount", 0))


async def unsubscribe(session: AsyncSession, customer_id: uuid.UUID, purpose: str) -> None:
    """The customer's click on an unsubscribe link: the refusal, announced once when new."""
    if await opt_out(session, customer_id, purpose):
        data = EmailUnsubscribed(customer_id=customer_id, purpose=purpose, unsubscribed_at=utcnow())
        await publish(session, data, subject=customer_id, key=str(customer_id))


async def opted_out(session: AsyncSession, customer_id: uuid.UUID, purpose: str) -> bool:
    found = await session.execute(
        select(EmailOptOut.customer_id).where(  # type: ignore[call-overload]
            EmailOptOut.customer_id == customer_id, EmailOptOut.purpose == purpose
        )
    )
    return found.first() is not None


async def move_opt_outs(session: AsyncSession, data: CustomerMerged) -> None:
    """A merged customer's refusals hold for the survivor."""
    merged = (
        await session.execute(select(EmailOptOut.purpose).where(EmailOptOut.customer_id == data.merged_id))  # type: ignore[call-overload]
    ).scalars()
    for purpose in list(merged):
        await opt_out(session, data.survivor_id, purpose)
    await session.execute(delete(EmailOptOut).where(EmailOptOut.customer_id == data.merged_id))  # type: ignore[arg-type]
