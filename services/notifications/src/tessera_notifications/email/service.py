"""E-mail: messages written with the fact that causes them, rendered from Jinja2 templates (a
text and an HTML part, in the recipient's language), and delivered by the sender job over SMTP.

Delivery is at least once, never silently twice: every message has a Message-ID fixed when it
is written, each attempt is recorded (committed) before it is made, and the attempt's outcome
after, for ``email_record_batch`` messages at a time (one transaction, not one per message). A
process killed between the server's acceptance and that record leaves the rows ``sending``; after
``email_attempt_timeout`` the job sends them again with the same Message-IDs (the duplicates that
can happen, at most that many per kill; receivers and mail archives that deduplicate by Message-ID
show each once). A temporary failure (4xx, a connection that fails) is retried after
``email_backoff_seconds`` x 2^(attempt-1); a permanent one (5xx), or the last attempt, is
recorded once as ``failed`` with ``notification.failed``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime
from typing import Any

import aiosmtplib
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from tessera_notifications.email.models import EmailMessage
from tessera_notifications.metrics import DELIVERY_SECONDS, EMAIL_QUEUE, FAILED, SENT
from tessera_notifications.settings import NotificationsSettings
from tessera_shared.db import dialect_name, table_of, unit_of_work, upsert, utcnow
from tessera_shared.events.contracts import NotificationFailed, NotificationSent
from tessera_shared.http.pages import language as page_language
from tessera_shared.http.pages import render_page, template_environment
from tessera_shared.jobs import ring_after_commit
from tessera_shared.outbox import outbox_row, publish_many

log = logging.getLogger(__name__)

TEMPLATES = template_environment("tessera_notifications.email")
_MESSAGE_IDS = uuid.UUID("6f1d2c1e-3b7a-4f0e-9a51-0c4b7e2d9a10")


def render(template: str, locale: str, values: dict[str, Any]) -> tuple[str, str]:
    """The text and the HTML part of ``template`` in ``locale`` (English unless Chinese)."""
    language = page_language(locale)
    text = TEMPLATES.get_template(f"{language}/{template}.txt").render(**values)
    html = TEMPLATES.get_template(f"{language}/{template}.html").render(**values)
    return text, html


def page(template: str, locale: str, values: dict[str, Any]) -> str:
    """An HTML page (not an e-mail) from ``template`` in ``locale``, e.g. the unsubscribe link's."""
    return render_page(TEMPLATES, template, locale, values)


def message_id_for(source_event_id: str, recipient: str, template: str, domain: str) -> str:
    """The same fact, recipient and template always give the same Message-ID."""
    return f"<{uuid.uuid5(_MESSAGE_IDS, f'{source_event_id}/{recipient}/{template}').hex}@{domain}>"


EMAIL_DOORBELL = "email"  # rung by a queued message (tessera_shared.jobs)


@dataclass(frozen=True)
class Outgoing:
    template: str
    recipient_kind: str
    recipient: str
    to_address: str
    locale: str
    subject: str
    values: dict[str, Any]
    customer_id: uuid.UUID | None
    source_type: str
    source_event_id: str
    unsubscribe_url: str | None = None


async def enqueue(session: AsyncSession, mail: Outgoing, settings: NotificationsSettings) -> None:
    """Write the message (once per fact, recipient and template) for the sender job."""
    text, html = render(mail.template, mail.locale, mail.values)
    table = table_of(EmailMessage)
    now = utcnow()
    stmt = upsert(session, table).values(
        id=uuid.uuid4(),
        message_id=message_id_for(mail.source_event_id, mail.recipient, mail.template, settings.mail_domain),
        template=mail.template,
        recipient_kind=mail.recipient_kind,
        recipient=mail.recipient,
        to_address=mail.to_address,
        locale=mail.locale,
        subject=mail.subject[:300],
        text_body=text,
        html_body=html,
        customer_id=mail.customer_id,
        unsubscribe_url=mail.unsubscribe_url,
        source_type=mail.source_type,
        source_event_id=mail.source_event_id,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["source_event_id", "recipient", "template"]))
    ring_after_commit(session, EMAIL_DOORBELL)  # the sender job sends it once this commits


def mime_of(row: EmailMessage, settings: NotificationsSettings) -> MimeMessage:
    message = MimeMessage()
    message["From"] = settings.mail_from
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Message-ID"] = row.message_id
    message["Date"] = format_datetime(row.created_at)
    if row.unsubscribe_url:
        # RFC 2369 and RFC 8058 (one click: the link takes a POST).
        message["List-Unsubscribe"] = f"<{row.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(row.text_body)
    message.add_alternative(row.html_body, subtype="html")
    return message


class Mailer:
    """The SMTP server of the settings, one connection per round."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings

    def client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            use_tls=s.smtp_tls == "tls",
            start_tls=s.smtp_tls == "starttls",
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            timeout=s.smtp_timeout,
        )


async def _claim(
    sessions: async_sessionmaker[AsyncSession], now: datetime, settings: NotificationsSettings
) -> list[EmailMessage]:
    """The messages due, each with its attempt recorded (committed) before it is made."""
    stale = now - timedelta(seconds=settings.email_attempt_timeout)
    async with unit_of_work(sessions) as session:
        stmt = (
            select(EmailMessage)
            .where(
                or_(
                    (col(EmailMessage.status) == "pending") & (col(EmailMessage.next_attempt_at) <= now),
                    (col(EmailMessage.status) == "sending") & (col(EmailMessage.last_attempt_at) <= stale),
                )
            )
            .order_by(col(EmailMessage.next_attempt_at), col(EmailMessage.id))
            .limit(settings.email_batch_size)
        )
        if dialect_name(session) == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list((await session.execute(stmt)).scalars())
        for row in rows:
            row.status = "sending"
            row.attempts += 1
            row.last_attempt_at = now
        await session.flush()
        session.expunge_all()
    return rows


async def _record(
    sessions: async_sessionmaker[AsyncSession],
    outcomes: list[tuple[EmailMessage, str | None, bool]],
    settings: NotificationsSettings,
) -> list[str]:
    """Record the outcomes of attempts (claimed row, error or None, temporary) in one transaction;
    each row's new status, or ``superseded`` (erased meanwhile, or another attempt took it over)."""
    now = utcnow()
    statuses: list[str] = []
    events: list[dict[str, Any]] = []
    async with unit_of_work(sessions) as session:
        stmt = (
            select(EmailMessage)
            .where(col(EmailMessage.id).in_([claimed.id for claimed, _, _ in outcomes]))
            .order_by(col(EmailMessage.id))  # locks taken in one order
            .with_for_update()
        )
        current = {row.id: row for row in (await session.execute(stmt)).scalars()}
        for claimed, error, temporary in outcomes:
            row = current.get(claimed.id)
            if row is None or row.status != "sending" or row.attempts != claimed.attempts:
                statuses.append("superseded")
                continue
            common: dict[str, Any] = {
                "notification_id": row.id,
                "channel": "email",
                "recipient_kind": "customer" if row.recipient_kind == "customer" else "user",
                "recipient": row.recipient,
                "source_type": row.source_type,
                "source_event_id": row.source_event_id,
                "customer_id": row.customer_id,
            }
            if error is None:
                row.status, row.sent_at, row.last_error = "sent", now, None
                SENT.labels("email").inc()
                DELIVERY_SECONDS.labels("email").observe(max((now - row.created_at).total_seconds(), 0.0))
                data: NotificationSent | NotificationFailed | None = NotificationSent(**common, sent_at=now)
            elif temporary and row.attempts < settings.email_max_attempts:
                row.status, row.last_error = "pending", error[:500]
                row.next_attempt_at = now + timedelta(seconds=settings.email_backoff_seconds * 2 ** (row.attempts - 1))
                data = None
            else:
                row.status, row.last_error = "failed", error[:500]
                FAILED.labels("email").inc()
                data = NotificationFailed(**common, reason=error[:500], failed_at=now)
            if data is not None:
                events.append(outbox_row(data, subject=row.id, key=row.recipient, now=now))
            statuses.append(row.status)
        await session.flush()
        await publish_many(session, events)
    return statuses


async def send_due(
    sessions: async_sessionmaker[AsyncSession], now: datetime, settings: NotificationsSettings, mailer: Mailer
) -> dict[str, int]:
    """One round of the sender job: every message due, over one SMTP connection."""
    counts: dict[str, int] = {}
    async with unit_of_work(sessions) as session:
        waiting = await session.execute(
            select(func.count()).where(col(EmailMessage.status).in_(("pending", "sending")))
        )
        EMAIL_QUEUE.set(waiting.scalar_one())
    while True:
        rows = await _claim(sessions, now, settings)
        if not rows:
            return counts
        smtp = mailer.client()
        connected: str | None = None
        try:
            await smtp.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            connected = f"cannot connect to the mail server: {exc}"
        outcomes: list[tuple[EmailMessage, str | None, bool]] = []
        try:
            for row in rows:
                error, temporary = connected, True
                if error is None:
                    try:
                        await smtp.send_message(mime_of(row, settings))
                    except aiosmtplib.SMTPResponseException as exc:
                        error, temporary = f"{exc.code} {exc.message}", 400 <= exc.code < 500
                    except aiosmtplib.SMTPRecipientsRefused as exc:
                        codes = [r.code for r in exc.recipients]
                        error, temporary = f"recipient refused: {codes}", all(400 <= c < 500 for c in codes)
                    except (aiosmtplib.SMTPException, OSError) as exc:
                        error, temporary = f"{type(exc).__name__}: {exc}", True
                outcomes.append((row, error, temporary))
                if len(outcomes) >= settings.email_record_batch or row is rows[-1]:
                    for status in await _record(sessions, outcomes, settings):
                        counts[status] = counts.get(status, 0) + 1
                    outcomes = []
        finally:
            if smtp.is_connected:
                try:
                    await smtp.quit()
                except (aiosmtplib.SMTPException, OSError):
                    smtp.close()
        if len(rows) < settings.email_batch_size:
            return counts
