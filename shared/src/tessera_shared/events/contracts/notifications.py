"""Facts published by the notifications service on ``crm.notifications`` (key: the recipient,
a customer id for a message to a customer, else the user name)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

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


class WebhookEndpointEvent(NotificationsEvent):
    """Facts about partner webhook endpoints (key: the owner). The URL is not published: it may
    carry the receiver's own token."""

    endpoint_id: uuid.UUID
    # The principal that manages the endpoint (a partner client id, or an admin's user name).
    owner: str


class WebhookEndpointCreated(WebhookEndpointEvent):
    """A webhook endpoint was registered."""

    event_type: ClassVar[str] = "webhook_endpoint.created"

    event_types: list[str]
    ordered: bool
    created_at: datetime


class WebhookEndpointUpdated(WebhookEndpointEvent):
    """A webhook endpoint was changed (its URL, types, description, order, enabled, or its secret rotated)."""

    event_type: ClassVar[str] = "webhook_endpoint.updated"

    changed_fields: list[str]
    enabled: bool
    updated_at: datetime


class WebhookEndpointDeleted(WebhookEndpointEvent):
    """A webhook endpoint was removed (its deliveries stop)."""

    event_type: ClassVar[str] = "webhook_endpoint.deleted"

    deleted_at: datetime


class WebhookEndpointDisabled(WebhookEndpointEvent):
    """Tessera disabled a webhook endpoint: it answered 410 Gone, or every attempt failed for days."""

    event_type: ClassVar[str] = "webhook_endpoint.disabled"

    reason: Literal["gone", "failing"]
    disabled_at: datetime


class NotificationRead(NotificationsEvent):
    """A user marked notifications of their inbox read: one (``notification_id``), or all of them
    (``notification_id`` null: every one numbered up to ``through_seq``). Key: the user."""

    event_type: ClassVar[str] = "notification.read"

    user_id: str
    notification_id: uuid.UUID | None = None
    # The highest inbox number (the stream's event id) the mark covers.
    through_seq: int
    marked: int
    read_at: datetime


Digest = Literal["none", "daily"]


class NotificationRuleCreated(NotificationsEvent):
    """An admin added a routing rule (key: the rule id)."""

    event_type: ClassVar[str] = "notification_rule.created"

    rule_id: uuid.UUID
    name: str
    rule_event_type: str
    condition: list[dict[str, Any]]
    recipients: list[dict[str, Any]]
    channels: list[Channel]
    enabled: bool
    version: int
    created_by: str
    created_at: datetime


class NotificationRuleUpdated(NotificationsEvent):
    """An admin changed a routing rule: ``changes`` holds the fields the change moved (name,
    condition, recipients, channels, enabled) with their new values."""

    event_type: ClassVar[str] = "notification_rule.updated"

    rule_id: uuid.UUID
    rule_event_type: str
    changes: dict[str, Any]
    version: int
    updated_by: str
    updated_at: datetime


class NotificationRuleDeleted(NotificationsEvent):
    """An admin removed a routing rule (a shipped one too)."""

    event_type: ClassVar[str] = "notification_rule.deleted"

    rule_id: uuid.UUID
    rule_event_type: str
    deleted_by: str
    deleted_at: datetime


class PreferenceChoice(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: str
    in_app: bool
    email: bool
    digest: Digest


class NotificationPreferencesUpdated(NotificationsEvent):
    """A user replaced their notification preferences: ``items`` are the stored choices now (a
    type not named has the default: in-app on, e-mail off, no digest). Key: the user."""

    event_type: ClassVar[str] = "notification_preferences.updated"

    user_id: str
    items: list[PreferenceChoice]
    updated_at: datetime


class EmailUnsubscribed(NotificationsEvent):
    """A customer refused e-mails of one purpose (e.g. ``surveys``) with the unsubscribe link of
    such an e-mail: no more of them are sent to the customer. Published once, when the refusal is
    new (a second click changes nothing). Key: the customer."""

    event_type: ClassVar[str] = "email.unsubscribed"

    customer_id: uuid.UUID
    purpose: str
    unsubscribed_at: datetime
