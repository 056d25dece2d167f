from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field

from tessera_notifications.models import Base
from tessera_shared.db import UTCDateTime, new_id, utcnow


class CustomerContact(Base, table=True):
    """A customer's e-mail address, from customer.created / customer.updated (erased with the customer)."""

    __tablename__ = "customer_contacts"

    customer_id: uuid.UUID = Field(primary_key=True)
    email: str | None = Field(default=None, max_length=320)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EmailOptOut(Base, table=True):
    """A customer who unsubscribed from the e-mails of one purpose (the link in each of them)."""

    __tablename__ = "email_opt_outs"

    customer_id: uuid.UUID = Field(primary_key=True)
    purpose: str = Field(primary_key=True, max_length=30)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EmailMessage(Base, table=True):
    """One e-mail to one recipient: written with the fact that causes it, then delivered by the
    sender job. ``message_id`` is fixed when the row is written, so every attempt carries the same
    Message-ID; each attempt is recorded (``attempts``, ``status`` sending) before it is made."""

    __tablename__ = "email_messages"
    __table_args__ = (
        # One message per fact, recipient and template, whatever the redeliveries.
        UniqueConstraint("source_event_id", "recipient", "template"),
        Index("ix_email_messages_due", "status", "next_attempt_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    message_id: str = Field(max_length=200)
    template: str = Field(max_length=50)
    # "user" (staff) or "customer".
    recipient_kind: str = Field(max_length=10)
    # The user name, or the customer id.
    recipient: str = Field(max_length=200)
    to_address: str = Field(max_length=320)
    locale: str = Field(default="en", max_length=5)
    subject: str = Field(max_length=300)
    text_body: str = Field(sa_type=Text)
    html_body: str = Field(sa_type=Text)
    customer_id: uuid.UUID | None = Field(default=None, index=True)
    # Where the recipient refuses more of these (List-Unsubscribe), for purposes a customer may refuse.
    unsubscribe_url: str | None = Field(default=None, max_length=500)
    source_type: str = Field(max_length=100)
    source_event_id: str = Field(max_length=100)
    # pending -> sending (an attempt is being made) -> sent | failed; back to pending to retry.
    status: str = Field(default="pending", max_length=10)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DigestItem(Base, table=True):
    """A notification a user asked to receive by e-mail once a day (preference digest: daily),
    waiting for the user's next digest."""

    __tablename__ = "digest_items"
    __table_args__ = (UniqueConstraint("user_id", "source_event_id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: str = Field(max_length=200, index=True)
    type: str = Field(max_length=100)
    title: str = Field(max_length=300)
    body: str = Field(max_length=2000)
    link: str | None = Field(default=None, max_length=300)
    customer_id: uuid.UUID | None = Field(default=None, index=True)
    source_event_id: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
