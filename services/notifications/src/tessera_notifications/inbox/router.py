from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from tessera_notifications.api import INBOX_ROLES, settings_of
from tessera_notifications.inbox.schemas import InboxNotificationOut, MarkedRead, UnreadCount
from tessera_notifications.inbox.service import (
    Order,
    after_seq,
    last_seq,
    mark_all_read,
    mark_read,
    own_notification,
    page_of_notifications,
    unread_count,
)
from tessera_shared.auth import Principal, require_roles
from tessera_shared.db import read_session
from tessera_shared.deps import SessionDep
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])

Reader = Annotated[Principal, require_roles(*INBOX_ROLES)]


@router.get("", response_model=Page[InboxNotificationOut], summary="My notifications (cursor pagination)")
async def list_inbox(
    session: SessionDep,
    page: PageQuery,
    principal: Reader,
    order: Annotated[Order, Query(description="unread_first (default) or newest")] = "unread_first",
    read: Annotated[bool | None, Query(description="only read (true) or unread (false) ones")] = None,
    type: Annotated[list[str] | None, Query(max_length=20, description="event types, e.g. activity.due")] = None,
) -> Page[InboxNotificationOut]:
    rows, next_cursor = await page_of_notifications(
        session, principal.subject, page, order=order, read=read, types=type or []
    )
    return Page[InboxNotificationOut](
        items=[InboxNotificationOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/unread-count", response_model=UnreadCount, summary="How many of my notifications are unread")
async def count_unread_notifications(session: SessionDep, principal: Reader) -> UnreadCount:
    return UnreadCount(unread=await unread_count(session, principal.subject))


@router.post("/read-all", response_model=MarkedRead, summary="Mark all my notifications read")
async def read_all_notifications(session: SessionDep, principal: Reader) -> MarkedRead:
    return MarkedRead(marked=await mark_all_read(session, principal.subject))


def _stream_start(last_event_id: str | None) -> int | None:
    return None if last_event_id is None else int(last_event_id)


@router.get(
    "/stream",
    summary="My new notifications as Server-Sent Events (Last-Event-ID resumes)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def stream_notifications(
    request: Request,
    principal: Reader,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", pattern=r"^[0-9]{1,18}$", description="the last event id this client saw"),
    ] = None,
) -> StreamingResponse:
    """Each notification is an ``event: notification`` whose ``id`` is its ``seq`` (one user's
    numbers grow in commit order), so a client that reconnects with ``Last-Event-ID`` gets exactly
    the ones after it. Without it the stream starts with what arrives from now on. A comment line
    every ``stream_heartbeat_seconds`` while quiet; the stream ends when the process stops
    (not ready from SIGTERM on) or after ``stream_max_seconds`` (the client reconnects)."""
    start = _stream_start(last_event_id)
    settings = settings_of(request)
    runtime = request.app.state.runtime
    user = principal.subject
    if start is None:
        async with read_session(runtime.sessions) as session:
            start = await last_seq(session, user)

    async def events() -> AsyncIterator[bytes]:
        seq = start
        yield b"retry: 1000\n\n"
        beat = opened = time.monotonic()
        while runtime.ready and time.monotonic() - opened < settings.stream_max_seconds:
            if await request.is_disconnected():
                break
            async with read_session(runtime.sessions) as session:
                rows = await after_seq(session, user, seq)
            for row in rows:
                payload = orjson.dumps(InboxNotificationOut.model_validate(row).model_dump(mode="json"))
                yield b"id: %d\nevent: notification\ndata: %s\n\n" % (row.seq, payload)
                seq = row.seq
            if rows:
                beat = time.monotonic()
                continue
            if time.monotonic() - beat >= settings.stream_heartbeat_seconds:
                yield b": heartbeat\n\n"
                beat = time.monotonic()
            await asyncio.sleep(settings.stream_poll_seconds)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/{notification_id}/read", response_model=InboxNotificationOut, summary="Mark one of my notifications read"
)
async def read_notification(notification_id: uuid.UUID, session: SessionDep, principal: Reader) -> InboxNotificationOut:
    notification = await own_notification(session, principal.subject, notification_id)
    return InboxNotificationOut.model_validate(await mark_read(session, notification))
