"""Live push through the gateway, over real HTTP (uvicorn on loopback, tools/inprocess_stack.py):
the gateway relays the stream as it comes (not buffered), a row another process commits reaches
the open stream within a second, and a reconnect with Last-Event-ID gets exactly the rest."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tessera_notifications.email.unsubscribe import link_for
from tessera_notifications.settings import NotificationsSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "tools"))
from inprocess_stack import InprocessStack


def commit_notification(db: Path, user: str, seq: int, title: str) -> None:
    """A notification committed by another process (a replica's consumer): the row and the user's number."""
    now = datetime.now(UTC).isoformat()
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO user_sequences (user_id, last_seq) VALUES (?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET last_seq = excluded.last_seq",
            (user, seq),
        )
        conn.execute(
            "INSERT INTO notifications (id, user_id, seq, type, title, body, link, source_event_id, unread, created_at)"
            " VALUES (?, ?, ?, 'activity.due', ?, '', NULL, ?, 1, ?)",
            (uuid.uuid4().hex, user, seq, title, uuid.uuid4().hex, now),
        )


async def next_event(lines, deadline: float) -> dict[str, str]:
    fields: dict[str, str] = {}
    async with asyncio.timeout(deadline):
        async for line in lines:
            if not line:
                if "event" in fields:
                    return fields
                fields = {}
                continue
            if not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
    raise AssertionError("the stream ended")


async def test_the_gateway_relays_the_stream_and_resumes(tmp_path) -> None:
    stack = InprocessStack(tmp_path, stream_poll_seconds=0.05, stream_heartbeat_seconds=0.5)
    await asyncio.to_thread(stack.start)
    try:
        gateway = stack.urls["gateway"]
        db = tmp_path / "notifications.db"
        async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
            token = (
                await client.post(
                    "/auth/token", data={"grant_type": "password", "username": "rep1", "password": "local"}
                )
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            async with client.stream("GET", "/api/v1/notifications/stream", headers=auth) as answer:
                assert answer.status_code == 200
                assert answer.headers["content-type"].startswith("text/event-stream")
                lines = answer.aiter_lines()
                assert await anext(lines) == "retry: 1000"
                latencies = []
                for seq in (1, 2):
                    await asyncio.to_thread(commit_notification, db, "rep1", seq, f"n{seq}")
                    committed = time.monotonic()
                    event = await next_event(lines, 5)
                    latencies.append(time.monotonic() - committed)
                    assert (event["id"], event["event"]) == (str(seq), "notification")
                    assert f'"title":"n{seq}"' in event["data"]
                # Heartbeats keep a quiet stream (and the proxies on its way) alive.
                async with asyncio.timeout(3):
                    async for line in lines:
                        if line == ": heartbeat":
                            break
            assert max(latencies) < 1.0, latencies

            for seq in (3, 4):
                await asyncio.to_thread(commit_notification, db, "rep1", seq, f"n{seq}")
            resumed = {**auth, "Last-Event-ID": "2"}
            async with client.stream("GET", "/api/v1/notifications/stream", headers=resumed) as answer:
                lines = answer.aiter_lines()
                got = [(await next_event(lines, 5))["id"] for _ in range(2)]
            assert got == ["3", "4"]

            # The inbox through the gateway too.
            page = (await client.get("/api/v1/notifications?order=newest", headers=auth)).json()
            assert [n["title"] for n in page["items"]] == ["n4", "n3", "n2", "n1"]
            assert (await client.get("/api/v1/notifications/stream")).status_code == 401

            # A customer's unsubscribe link works through the gateway without any account.
            customer_id = uuid.uuid4()
            settings = NotificationsSettings(**{"public_url": gateway})
            link = link_for(settings, customer_id, "surveys").removeprefix(gateway)
            answer = await client.get(link)  # tells, changes nothing
            assert answer.status_code == 200 and answer.json()["unsubscribed"] is False
            answer = await client.post(link)
            assert answer.status_code == 200 and answer.json()["unsubscribed"] is True
            assert (await client.get(link.split("?")[0])).status_code == 401
            assert (await client.get(link[:-4] + "0000")).status_code == 403
            with sqlite3.connect(db) as conn:
                assert conn.execute("SELECT purpose FROM email_opt_outs").fetchall() == [("surveys",)]
    finally:
        await asyncio.to_thread(stack.stop)
