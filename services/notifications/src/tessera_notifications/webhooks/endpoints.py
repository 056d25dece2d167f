"""Managing endpoints: who may (a partner its own, an admin all), what they subscribe to, their
secrets; every change published on ``crm.notifications``."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tessera_notifications.event_types import BUSINESS_PRODUCERS, refuse_unknown
from tessera_notifications.settings import NotificationsSettings
from tessera_notifications.webhooks.deliveries import forget_deliveries, forget_endpoints
from tessera_notifications.webhooks.models import WebhookEndpoint
from tessera_notifications.webhooks.schemas import EndpointChange, EndpointCreate
from tessera_notifications.webhooks.ssrf import AddressPolicy, check_url
from tessera_shared.auth import Principal, Role
from tessera_shared.db import utcnow
from tessera_shared.errors import InvalidInput, NotFound
from tessera_shared.events.contracts.notifications import (
    WebhookEndpointCreated,
    WebhookEndpointDeleted,
    WebhookEndpointUpdated,
)
from tessera_shared.http.pagination import PageParams, paginate
from tessera_shared.outbox import publish

# The producers whose topics are fanned out to webhooks: the business facts partners may read.
FANNED_OUT = BUSINESS_PRODUCERS


def policy_of(settings: NotificationsSettings) -> AddressPolicy:
    loopback = settings.is_local if settings.webhook_allow_loopback is None else settings.webhook_allow_loopback
    https = (not settings.is_local) if settings.webhook_require_https is None else settings.webhook_require_https
    return AddressPolicy.of(settings.webhook_allowed_networks, allow_loopback=loopback, require_https=https)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def is_admin(principal: Principal) -> bool:
    return Role.ADMIN in principal.roles


def check_event_types(types: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(types))
    refuse_unknown("event_types", chosen, wildcard=True)
    return chosen


async def check_endpoint_url(url: str, settings: NotificationsSettings) -> None:
    why = await check_url(url, policy_of(settings))
    if why is not None:
        raise InvalidInput("url", why)


async def find_endpoint(
    session: AsyncSession, endpoint_id: uuid.UUID, principal: Principal, *, for_update: bool = False
) -> WebhookEndpoint:
    """The endpoint, if the principal may manage it (another partner's is not found)."""
    endpoint = await session.get(WebhookEndpoint, endpoint_id, with_for_update=for_update)
    if endpoint is None or not (is_admin(principal) or endpoint.owner == principal.subject):
        raise NotFound("webhook endpoint", endpoint_id)
    return endpoint


async def page_of_endpoints(
    session: AsyncSession, principal: Principal, params: PageParams
) -> tuple[list[WebhookEndpoint], str | None]:
    stmt = select(WebhookEndpoint)
    if not is_admin(principal):
        stmt = stmt.where(col(WebhookEndpoint.owner) == principal.subject)
    return await paginate(session, stmt, params, (col(WebhookEndpoint.id),))


async def create_endpoint(
    session: AsyncSession, principal: Principal, body: EndpointCreate, settings: NotificationsSettings
) -> WebhookEndpoint:
    types = check_event_types(body.event_types)
    await check_endpoint_url(body.url, settings)
    endpoint = WebhookEndpoint(
        owner=principal.subject,
        url=body.url,
        description=body.description,
        event_types=types,
        ordered=body.ordered,
        # A partner reads no personal data over the API, so its deliveries carry none either.
        personal_data=is_admin(principal),
        secret=new_secret(),
    )
    session.add(endpoint)
    await session.flush()
    forget_endpoints(session)
    await publish(
        session,
        WebhookEndpointCreated(
            endpoint_id=endpoint.id,
            owner=endpoint.owner,
            event_types=types,
            ordered=endpoint.ordered,
            created_at=endpoint.created_at,
        ),
        subject=endpoint.id,
        key=endpoint.owner,
    )
    return endpoint


async def changed(session: AsyncSession, endpoint: WebhookEndpoint, fields: list[str]) -> None:
    endpoint.version += 1
    endpoint.updated_at = utcnow()
    await session.flush()
    forget_endpoints(session)
    await publish(
        session,
        WebhookEndpointUpdated(
            endpoint_id=endpoint.id,
            owner=endpoint.owner,
            changed_fields=fields,
            enabled=endpoint.enabled,
            updated_at=endpoint.updated_at,
        ),
        subject=endpoint.id,
        key=endpoint.owner,
    )


async def change_endpoint(
    session: AsyncSession, endpoint: WebhookEndpoint, body: EndpointChange, settings: NotificationsSettings
) -> WebhookEndpoint:
    fields: list[str] = []
    values = body.model_dump(exclude_unset=True)
    if values.get("event_types") is not None:
        values["event_types"] = check_event_types(values["event_types"])
    if values.get("url") is not None and values["url"] != endpoint.url:
        await check_endpoint_url(values["url"], settings)
    for name in ("url", "event_types", "description", "ordered", "enabled"):
        if name not in values or (values[name] is None and name != "description"):
            continue
        if getattr(endpoint, name) != values[name]:
            setattr(endpoint, name, values[name])
            fields.append(name)
    if "enabled" in fields:
        endpoint.disabled_reason = None if endpoint.enabled else "paused"
        endpoint.failing_since = None
    if fields:
        await changed(session, endpoint, fields)
    return endpoint


async def rotate_secret(session: AsyncSession, endpoint: WebhookEndpoint, settings: NotificationsSettings) -> None:
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = utcnow() + timedelta(hours=settings.webhook_rotation_hours)
    endpoint.secret = new_secret()
    await changed(session, endpoint, ["secret"])


async def delete_endpoint(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    """The endpoint goes; its delivery history goes with it."""
    await forget_deliveries(session, endpoint.id)
    await session.delete(endpoint)
    await session.flush()
    forget_endpoints(session)
    await publish(
        session,
        WebhookEndpointDeleted(endpoint_id=endpoint.id, owner=endpoint.owner, deleted_at=utcnow()),
        subject=endpoint.id,
        key=endpoint.owner,
    )
