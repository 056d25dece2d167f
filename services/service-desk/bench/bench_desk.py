"""Service-desk benchmarks: breach detection over 100k open tickets, KB search over 50k articles.

    .venv/bin/python services/service-desk/bench/bench_desk.py --pg postgresql+asyncpg://postgres@127.0.0.1:55432

Prints one JSON report. Each figure stands beside its ceiling measured in the same run
(the database alone: the bare index query; an empty search round trip).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import insert, select, text
from sqlmodel import col

import tessera_service_desk.main as desk_main
from tessera_service_desk.kb.models import KbArticle
from tessera_service_desk.kb.repository import ArticleRepository
from tessera_service_desk.kb.search import prepare_search_index
from tessera_service_desk.settings import ServiceDeskSettings
from tessera_service_desk.sla.service import scan_breaches
from tessera_service_desk.tickets.models import Ticket, TicketStatusChange
from tessera_shared.db import create_engine, new_id, session_factory
from tessera_shared.migrations import upgrade_to_head

MIGRATIONS = Path(desk_main.__file__).parent / "migrations"
COMMON = [
    "printer",
    "router",
    "invoice",
    "refund",
    "password",
    "vpn",
    "email",
    "laptop",
    "screen",
    "battery",
    "network",
    "billing",
    "account",
    "login",
    "error",
    "crash",
    "update",
    "install",
    "license",
    "delivery",
    "order",
    "payment",
    "card",
    "mobile",
    "app",
    "sync",
    "backup",
    "restore",
    "firewall",
    "cable",
    "monitor",
    "keyboard",
    "mouse",
    "scanner",
    "toner",
    "paper",
    "tray",
    "driver",
]


def vocabulary(rnd: random.Random, size: int = 5000) -> list[str]:
    """Pseudo-words; drawn with a Zipf-like skew so a few are frequent and most are rare."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return list(COMMON) + ["".join(rnd.choices(letters, k=rnd.randint(4, 9))) for _ in range(size)]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 2)


CREATED: list[str] = []


def _admin_dsn(pg: str) -> str:
    return pg.replace("+asyncpg", "").rstrip("/") + "/postgres"


async def fresh_database(pg: str | None, tmp: Path, name: str) -> str:
    if pg is None:
        return f"sqlite+aiosqlite:///{tmp / name}.db"
    db = f"bench_desk_{name}_{uuid.uuid4().hex[:6]}"
    conn = await asyncpg.connect(_admin_dsn(pg))
    await conn.execute(f'CREATE DATABASE "{db}"')
    await conn.close()
    CREATED.append(db)
    return f"{pg.rstrip('/')}/{db}"


async def drop_databases(pg: str | None) -> None:
    if pg is None or not CREATED:
        return
    conn = await asyncpg.connect(_admin_dsn(pg))
    for db in CREATED:
        await conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    await conn.close()


async def bench_breaches(url: str, tickets: int, due: int) -> dict[str, object]:
    engine = create_engine(url)
    await upgrade_to_head(engine, MIGRATIONS)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    opened = now - timedelta(days=10)
    rows = []
    for i in range(tickets):
        overdue = i < due
        rows.append(
            dict(
                id=new_id(),
                customer_id=uuid.uuid4(),
                subject="s",
                description="",
                channel="web",
                category="fault",
                priority="urgent",
                requested_priority="urgent",
                status="open",
                service_level="standard",
                tier="ordinary",
                escalation_level=0,
                first_response_minutes=60,
                next_response_minutes=120,
                resolution_minutes=480,
                business_hours=False,
                first_response_at=opened,
                reopened_count=0,
                public_reply_count=1,
                breached_metrics=[],
                sla_breached=False,
                next_sla_due_at=(opened + timedelta(hours=8)) if overdue else now + timedelta(days=30),
                created_at=opened if overdue else now,
                updated_at=now,
                version=1,
            )
        )
    async with sessions() as s:
        for start in range(0, len(rows), 5000):
            await s.execute(insert(Ticket), rows[start : start + 5000])
        await s.execute(
            insert(TicketStatusChange),
            [
                dict(
                    id=new_id(),
                    ticket_id=r["id"],
                    from_status="new",
                    to_status="open",
                    actor="bench",
                    at=r["created_at"],
                )
                for r in rows
            ],
        )
        await s.commit()
    settings = ServiceDeskSettings(database_url=url, kafka_enabled=False)
    async with sessions() as s:  # ceiling: the database finding the due tickets through the index
        t0 = time.perf_counter()
        found = len((await s.execute(select(col(Ticket.id)).where(col(Ticket.next_sla_due_at) <= now))).all())
        query_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    processed = await scan_breaches(sessions, now, settings)
    scan_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = await scan_breaches(sessions, now, settings)
    rescan_s = time.perf_counter() - t0
    await engine.dispose()
    return {
        "open_tickets": tickets,
        "breaching": due,
        "found_by_index": found,
        "processed": processed,
        "scan_seconds": round(scan_s, 3),
        "per_breach_ms": round(1000 * scan_s / max(processed, 1), 3),
        "second_scan_processed": again,
        "second_scan_seconds": round(rescan_s, 3),
        "ceiling_index_query_seconds": round(query_s, 3),
    }


async def bench_search(url: str, articles: int, queries: int) -> dict[str, object]:
    engine = create_engine(url)
    await upgrade_to_head(engine, MIGRATIONS)
    await prepare_search_index(engine)
    sessions = session_factory(engine)
    rnd = random.Random(7)
    words = vocabulary(rnd)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    now = datetime.now(UTC)
    async with sessions() as s:
        batch = []
        for _ in range(articles):
            title = " ".join(rnd.choices(words, weights, k=5))
            body = " ".join(rnd.choices(words, weights, k=150))
            batch.append(
                dict(
                    id=new_id(),
                    title=title,
                    body=body,
                    tags=[],
                    status="published",
                    author_id="bench",
                    view_count=0,
                    helpful_count=0,
                    not_helpful_count=0,
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
            )
            if len(batch) == 5000:
                await s.execute(insert(KbArticle), batch)
                batch = []
        if batch:
            await s.execute(insert(KbArticle), batch)
        await s.commit()
        if engine.dialect.name == "postgresql":
            await s.execute(text("ANALYZE kb_articles"))
            await s.commit()
    latencies, empty, broad = [], [], []
    async with sessions() as s:
        repo = ArticleRepository(s)
        for i in range(queries):
            # A user's query: one frequent word and one of the long tail, like "printer xkqzt".
            q = f"{rnd.choice(COMMON)} {words[rnd.randint(40, 1000)]}"
            t0 = time.perf_counter()
            await repo.search(q, status="published", limit=20)
            latencies.append(time.perf_counter() - t0)
            if i < 30:  # the worst case: one very frequent word matches most of the corpus
                t0 = time.perf_counter()
                await repo.search(COMMON[0], status="published", limit=20)
                broad.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await s.execute(text("SELECT 1"))
            empty.append(time.perf_counter() - t0)
    await engine.dispose()
    return {
        "articles": articles,
        "queries": queries,
        "p50_ms": pct(latencies, 50),
        "p95_ms": pct(latencies, 95),
        "p99_ms": pct(latencies, 99),
        "mean_ms": round(statistics.mean(latencies) * 1000, 2),
        "ceiling_select_1_p99_ms": pct(empty, 99),
        "single_most_frequent_word_p99_ms": pct(broad, 99),
    }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", help="PostgreSQL server URL (postgresql+asyncpg://user@host:port); SQLite when absent")
    ap.add_argument("--tickets", type=int, default=100_000)
    ap.add_argument("--due", type=int, default=1_000)
    ap.add_argument("--articles", type=int, default=50_000)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            report = {
                "database": "postgresql" if args.pg else "sqlite",
                "breach_detection": await bench_breaches(
                    await fresh_database(args.pg, Path(tmp), "breach"), args.tickets, args.due
                ),
                "kb_search": await bench_search(
                    await fresh_database(args.pg, Path(tmp), "kb"), args.articles, args.queries
                ),
            }
        finally:
            await drop_databases(args.pg)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
