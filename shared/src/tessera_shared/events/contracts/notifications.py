"""Facts published by the notifications service on ``crm.notifications`` (key: the recipient,
a customer id for a message to a customer, else the user name)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from tessera_shared.events.envelope import EventData

Channel = Literal["in_app", "email"]
RecipientKind = Literal["user", "customer"]


class NotificationsEvent(EventData):
    producer: ClassVar[str] = "notifications"


class NotificationSent(NotificationsEvent):
    """A notification was delivered on one channel: put in a user's inbox, or accepted by the
    mail server."""

    event_type: ClassVar[str] = "notification.sent"

    notification_id: uuid.UUID
    channel: Channel
    recipient_kind: RecipientKind
    # The user name, or the customer id for a message to a customer.
    recipient: str
    # The fact the notification is about, and the customer it concerns (if any).
    source_type: str
    source_event_id: str
    customer_id: uuid.UUID | None = None
    sent_at: datetime


class NotificationFailed(NotificationsEvent):
    """A notification could not be delivered and will not be tried again (recorded once)."""

    event_type: ClassVar[str] = "notification.failed"

    notification_id: uuid.UUID
    channel: Channel
    recipient_kind: RecipientKind
    recipient: str
    source_type: str
    source_event_id: str
    customer_id: uuid.UUID | None = None
    reason: str
    failed_at: datetime
