"""The value recomputation on PostgreSQL as set-based SQL: the rules of ``rules.py`` (the source of
truth; tests/service/test_value_setbased.py proves both paths agree) applied by the database in one pass.

Aggregates per customer (GROUP BY), quintiles with RANK(), Pareto shares with a running SUM ordered by
(value DESC, id), all into a table of the run; then one UPDATE per chunk of customers, and the tier
history, timeline and outbox rows for the customers whose tier moved, in the same statement; the
chunks are applied by two connections at once.

A chunk skips the customers another transaction holds (the consumer's, another replica's run) and
they are applied after the chunks, one at a time at last: the run never waits for a row lock while
it holds one, so it cannot deadlock with the consumer or with a run on another replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from tessera_customer.settings import CustomerSettings
from tessera_customer.value import rules
from tessera_shared.db import utcnow
from tessera_shared.db.retry import retry_lost_races
from tessera_shared.events.contracts import CustomerTierChanged
from tessera_shared.events.envelope import build_event, topic_for
from tessera_shared.observability import current_traceparent

log = logging.getLogger(__name__)

# A chunk is one transaction of this many customers, of one of two kinds (see _CHUNKS).
CHUNK = 1_000
# Chunks applied at once, each on its own connection: a chunk is CPU in one backend (index writes),
# so a second one uses the database's second core.
WORKERS = 2
# Advisory-lock namespace of the runs' tables (the two-int key space, apart from the jobs' bigint keys).
_LOCKS = 0x76616C
_RUN_LOCK = "CAST(:ns AS int), hashtext(:run)"  # a run's key: (namespace, hash of its table's name)
# The aggregates and window sorts of a million customers fit in memory instead of spilling to disk.
WORK_MEM = "256MB"


def _trend(previous: str, recent: str) -> str:
    """rules.trend: recent against previous ± tolerance, multiplied out (exact, sign-safe)."""
    return (
        f"CASE WHEN {previous} = 0 THEN CASE WHEN {recent} > 0 THEN 'rising' ELSE 'steady' END"
        f" WHEN {recent} * sign({previous}) > abs({previous}) * (1 + CAST(:tolerance AS numeric)) THEN 'rising'"
        f" WHEN {recent} * sign({previous}) < abs({previous}) * (1 - CAST(:tolerance AS numeric)) THEN 'falling'"
        " ELSE 'steady' END"
    )


def _quintile(expr: str) -> str:
    """rules.quintiles: min(5, 1 + 5 * first rank of the value // n); equal values share a score."""
    return f"least(5, 1 + (5 * (rank() OVER (ORDER BY {expr}) - 1)) / count(*) OVER ())"


def _days_since(column: str) -> str:
    """Python's (as_of - column).days: whole days, floored."""
    return f"floor(extract(epoch FROM CAST(:as_of AS timestamptz) - {column}) / 86400)"


def _array_len(column: str) -> str:
    return f"CASE WHEN jsonb_typeof(s.{column}) = 'array' THEN jsonb_array_length(s.{column}) ELSE 0 END"


# A table of the run, not a temporary one: every connection that applies chunks reads it. Unlogged (a
# crash empties it; the run is then re-run) and dropped at the end, or by a later run (_drop_abandoned).
_CREATE = """
CREATE UNLOGGED TABLE {run} (id uuid NOT NULL, monetary numeric, r int, fr int, m int, lifetime numeric,
  tier text, segment text, frequency_class text, stage text, risk_points int, chunk int, live boolean)
"""

# Two kinds of chunk. Customers whose tier, monetary or segment moves (all indexed: the update writes
# every index of customers) go in id order, so that a chunk's entries in the (column, id) indexes are
# neighbours on a few leaf pages instead of a page each (first run at 1M: ~150 → ~90 ms of CPU per chunk).
# The others' updates can stay heap-only if a chunk has few rows per page, so they go by a hash of the id
# (negative chunk numbers): with time-ordered ids, id order is table order, and a whole page's rows in one
# transaction leave no room on it (100k customers in id order, a run that changes nothing: 26% of the
# updates heap-only in id-order chunks, 98% in hashed ones).
_CHUNKS = """
CASE WHEN moving THEN (count(*) FILTER (WHERE moving) OVER (ORDER BY id) - 1) / CAST(:chunk AS int)
     ELSE -1 - mod(uuid_hash(id) & 2147483647, CAST(ceil(n / CAST(:chunk AS numeric)) AS int)) END"""

_FACTS = f"""
INSERT INTO {{run}}
WITH p AS (
  SELECT customer_id AS id, max(occurred_at) AS last_ever,
         count(*) FILTER (WHERE occurred_at > :start) AS purchases,
         min(occurred_at) FILTER (WHERE occurred_at > :start) AS first_at,
         max(occurred_at) FILTER (WHERE occurred_at > :start) AS last_at,
         count(*) FILTER (WHERE occurred_at > :middle) AS recent_purchases
  FROM purchases WHERE occurred_at <= CAST(:as_of AS timestamptz) GROUP BY customer_id),
converted AS (  -- sum(amount * rate) is exactly the Python path's sum(amount) * rate per currency
  SELECT customer_id, received_at,
         amount * (CAST(:rates AS numeric[]))[array_position(CAST(:currencies AS text[]), CAST(currency AS text))]
           AS value
  FROM payment_facts
  WHERE received_at <= CAST(:as_of AS timestamptz) AND CAST(currency AS text) = ANY(CAST(:currencies AS text[]))),
pay AS (
  SELECT customer_id AS id, sum(value) AS lifetime,
         coalesce(sum(value) FILTER (WHERE received_at > :start), 0) AS monetary,
         coalesce(sum(value) FILTER (WHERE received_at > :middle), 0) AS recent_value
  FROM converted GROUP BY customer_id),
f AS (
  SELECT coalesce(p.id, pay.id) AS id, p.last_ever, p.first_at, p.last_at,
         coalesce(p.purchases, 0) AS purchases, coalesce(p.recent_purchases, 0) AS recent_purchases,
         coalesce(pay.lifetime, 0) AS lifetime, coalesce(pay.monetary, 0) AS monetary,
         coalesce(pay.recent_value, 0) AS recent_value
  FROM p FULL JOIN pay ON pay.id = p.id),
scored AS (
  SELECT f.*,
         {_quintile(f"coalesce(-{_days_since('f.last_ever')}, -1000000)")}
           AS r,
         {_quintile("f.purchases")} AS fr,
         {_quintile("f.monetary")} AS m,
         count(*) OVER () AS n, sum(f.monetary) FILTER (WHERE f.monetary > 0) OVER () AS total,
         -- revenue ahead in (value DESC, id) order, from the ascending sort the monetary quintile uses
         sum(f.monetary) OVER () - sum(f.monetary) OVER (ORDER BY f.monetary, f.id DESC ROWS UNBOUNDED PRECEDING)
           AS above,
         {_trend("f.purchases - f.recent_purchases", "f.recent_purchases")} AS freq_trend,
         {_trend("f.monetary - f.recent_value", "f.recent_value")} AS value_trend
  FROM f),
v AS MATERIALIZED (  -- the rules' expressions evaluated once, not again where moving compares them
SELECT x.id, x.n, x.monetary, x.r, x.fr, x.m, round(x.lifetime, 4) AS lifetime,
  CASE WHEN CAST(:vip AS numeric) IS NOT NULL AND x.lifetime >= CAST(:vip AS numeric) THEN 'key'
       WHEN x.monetary <= 0 OR coalesce(x.total, 0) = 0 THEN 'small'
       WHEN x.above < CAST(:key_share AS numeric) * x.total THEN 'key'
       WHEN x.total - x.above <= CAST(:small_share AS numeric) * x.total THEN 'small'
       ELSE 'ordinary' END AS tier,
  CASE WHEN x.r >= 4 AND x.fr >= 4 AND x.m >= 4 THEN 'champions'
       WHEN x.r <= 2 AND x.fr >= 4 AND x.m >= 4 THEN 'cannot_lose'
       WHEN x.r <= 2 AND x.fr >= 3 THEN 'at_risk'
       WHEN x.fr >= 4 THEN 'loyal'
       WHEN x.r >= 4 AND x.fr = 1 THEN 'new'
       WHEN x.r >= 4 THEN 'potential_loyalist'
       WHEN x.r = 3 THEN 'needs_attention'
       ELSE 'hibernating' END AS segment,
  CASE WHEN x.purchases = 0 THEN NULL WHEN x.purchases = 1 THEN 'light'
       WHEN x.last_at - x.first_at <= make_interval(days => CAST(:heavy_days AS int) * CAST(x.purchases - 1 AS int))
         THEN 'heavy'
       WHEN x.last_at - x.first_at <= make_interval(days => CAST(:medium_days AS int) * CAST(x.purchases - 1 AS int))
         THEN 'medium'
       ELSE 'light' END AS frequency_class,
  CASE WHEN x.purchases = 0 THEN NULL WHEN x.purchases = 1 THEN 'exploration'
       WHEN 'falling' IN (x.freq_trend, x.value_trend) AND 'rising' NOT IN (x.freq_trend, x.value_trend) THEN 'decline'
       WHEN 'rising' IN (x.freq_trend, x.value_trend) AND 'falling' NOT IN (x.freq_trend, x.value_trend)
         THEN 'formation'
       ELSE 'stability' END AS stage,
  -- rules.churn_risk without the days since the last purchase (read from the customer when applied)
  CASE WHEN x.freq_trend = 'falling' THEN 15 ELSE 0 END + CASE WHEN x.value_trend = 'falling' THEN 10 ELSE 0 END
  + least(15, 5 * {_array_len("open_tickets")}) + least(20, 10 * {_array_len("escalated_tickets")})
  + CASE WHEN s.last_csat <= 2 THEN 15 ELSE 0 END + least(20, 10 * {_array_len("overdue_invoices")})
  + least(10, 5 * coalesce(s.sla_breaches, 0)) AS risk_points
FROM scored x LEFT JOIN customer_signals s ON s.customer_id = x.id),
stored AS (  -- moving: the update will change an indexed column (a hint for the chunks; the apply decides)
  SELECT v.*, c.id IS NOT NULL AND c.merged_into_id IS NULL AS live,
         c.id IS NOT NULL AND c.merged_into_id IS NULL AND (c.tier, c.monetary, c.rfm_segment)
           IS DISTINCT FROM (v.tier, CAST(v.monetary AS numeric(20, 4)), v.segment) AS moving
  FROM v LEFT JOIN customers c ON c.id = v.id)
SELECT id, monetary, r, fr, m, lifetime, tier, segment, frequency_class, stage, risk_points, {_CHUNKS} AS chunk,
       live
FROM stored
"""  # noqa: S608 - put together from this module's SQL fragments; values are bound parameters

# The chunk's rows, or those of them named in :only (the ones left by an earlier try).
_ROWS = "v.chunk = CAST(:chunk AS int) AND (CAST(:only AS uuid[]) IS NULL OR v.id = ANY(CAST(:only AS uuid[])))"

# One chunk: lock the customers, update them, and for those whose tier moved write the history row,
# the timeline line and the outbox event (the envelope is the Python-built template, ids substituted).
#
# It never waits for a row lock, so it cannot take part in a deadlock: a customer another transaction
# holds (the consumer's, another run's) is skipped, and so is one that changed after the statement's
# snapshot was taken, if the UPDATE's ctid join does not reach its locked version. Both come back as
# ``left``, the live customers of the chunk not updated, which _apply tries again after the chunks,
# and at last one at a time (lock first, then this statement).
_APPLY = """
WITH old AS (
  SELECT c.id, c.ctid AS tid, c.tier AS from_tier, v.tier AS to_tier, v.monetary, v.r, v.fr, v.m, v.segment,
         v.frequency_class, v.stage, v.risk_points, v.lifetime
  FROM customers c JOIN {{run}} v ON v.id = c.id
  WHERE {rows} AND c.merged_into_id IS NULL
  FOR UPDATE OF c SKIP LOCKED),
upd AS (
  UPDATE customers c SET tier = o.to_tier, monetary = o.monetary, rfm_recency = o.r, rfm_frequency = o.fr,
    rfm_monetary = o.m, rfm_segment = o.segment, frequency_class = o.frequency_class, lifecycle_stage = o.stage,
    churn_risk = least(100, o.risk_points + CASE
      WHEN {days} >= CAST(:churn_days AS int) THEN 35
      WHEN 2 * {days} >= CAST(:churn_days AS int) THEN 20
      ELSE 0 END),
    value_computed_at = CAST(:as_of AS timestamptz)
  FROM old o WHERE c.ctid = o.tid  -- the row locked above, found without a second index lookup
  RETURNING c.id, o.from_tier, o.to_tier, o.lifetime),
ch AS MATERIALIZED (
  SELECT id, from_tier, to_tier, lifetime, gen_random_uuid() AS event_id,
         uuid_send(gen_random_uuid()) AS history_bytes, uuid_send(gen_random_uuid()) AS line_bytes
  FROM upd WHERE from_tier IS DISTINCT FROM to_tier),
history AS (
  INSERT INTO tier_changes (id, customer_id, from_tier, to_tier, changed_at)
  SELECT {history_id}, id, from_tier, to_tier, CAST(:as_of AS timestamptz) FROM ch),
lines AS (
  INSERT INTO timeline_entries (id, customer_id, occurred_at, kind, source, summary, ref_id, data, event_id)
  SELECT {line_id}, id, CAST(:as_of AS timestamptz), 'customer.tier_changed', 'customer',
         'Tier ' || coalesce(from_tier, 'none') || ' → ' || to_tier, NULL,
         jsonb_build_object('from_tier', from_tier, 'to_tier', to_tier), NULL FROM ch),
events AS (
  INSERT INTO outbox_events (event_id, topic, key, event_type, envelope, created_at)
  SELECT event_id, CAST(:topic AS text), CAST(id AS text), 'customer.tier_changed',
         replace(replace(replace(replace(replace(
           CAST(:template AS text), CAST(:event_token AS text), CAST(event_id AS text)),
           CAST(:customer_token AS text), CAST(id AS text)),
           '"from_tier":"@from"', '"from_tier":' || coalesce('"' || from_tier || '"', 'null')),
           '"to_tier":"@to"', '"to_tier":"' || to_tier || '"'),
           '"lifetime_value":"0"', '"lifetime_value":"' || CAST(lifetime AS text) || '"'),
         CAST(:now AS timestamptz)
  FROM ch)
SELECT (SELECT count(*) FROM ch) AS changed,
       ARRAY(SELECT v.id FROM {{run}} v
             WHERE {rows} AND v.live AND NOT EXISTS (SELECT FROM upd WHERE upd.id = v.id) ORDER BY v.id) AS left
"""


def _time_ordered_id(column: str) -> str:
    """tessera_shared.db.new_id in SQL: the run's milliseconds in the first 48 bits, version 7."""
    stamped = f"overlay({column} PLACING substring(int8send(CAST(:ms AS bigint)) FROM 3) FROM 1)"
    return f"CAST(encode(set_byte({stamped}, 6, 112 | (get_byte({column}, 6) & 15)), 'hex') AS uuid)"


_APPLY = _APPLY.format(
    rows=_ROWS,
    history_id=_time_ordered_id("history_bytes"),
    line_id=_time_ordered_id("line_bytes"),
    days=_days_since("c.last_purchase_at"),
)


def _of(statement: str, run: str) -> TextClause:
    return text(statement.replace("{run}", run))


_EVENT_TOKEN = uuid.UUID(int=0xE)
_CUSTOMER_TOKEN = uuid.UUID(int=0xC)


def envelope_template(settings: CustomerSettings, as_of: datetime, now: datetime) -> str:
    """The envelope publish() would write, with placeholders for what varies per customer: the payload
    stays byte-for-byte what the Python path serialises."""
    # model_construct does not validate: the tiers are placeholder tokens that the SQL replaces per row.
    data = CustomerTierChanged.model_construct(
        customer_id=_CUSTOMER_TOKEN,
        from_tier="@from",  # type: ignore[arg-type]  # a placeholder, not a Tier
        to_tier="@to",  # type: ignore[arg-type]  # a placeholder, not a Tier
        lifetime_value=Decimal(0),
        currency=settings.value_currency,
        changed_at=as_of,
    )
    envelope = build_event(
        data, subject=_CUSTOMER_TOKEN, traceparent=current_traceparent(), event_id=_EVENT_TOKEN, time=now
    )
    return envelope.to_json().decode()


def facts_params(settings: CustomerSettings, as_of: datetime) -> dict[str, Any]:
    rates = {
        settings.value_currency: Decimal(1),
        **{c: r for c, r in settings.fx_rates.items() if c != settings.value_currency},
    }
    return {
        "as_of": as_of,
        "start": as_of - timedelta(days=settings.value_window_days),
        "middle": as_of - timedelta(days=settings.value_window_days / 2),
        "currencies": list(rates),
        "rates": [format(r, "f") for r in rates.values()],
        "tolerance": rules.TREND_TOLERANCE,
        "key_share": settings.tier_key_share,
        "small_share": settings.tier_small_share,
        "vip": settings.tier_vip_lifetime_value,
        "heavy_days": settings.frequency_heavy_days,
        "medium_days": settings.frequency_medium_days,
    }


async def recompute(
    sessions: async_sessionmaker[AsyncSession],
    settings: CustomerSettings,
    as_of: datetime,
    chunk: int | None = None,
    workers: int | None = None,
) -> dict[str, int]:
    """recompute_values on PostgreSQL. The run's table is marked in use by an advisory lock that this
    connection holds until the table is dropped; a table without one is a crashed run's, dropped here."""
    engine = sessions.kw["bind"]
    run = f"value_run_{uuid.uuid4().hex[:12]}"
    lock = {"ns": _LOCKS, "run": run}
    async with engine.connect() as conn:
        await conn.execute(text(f"SELECT pg_advisory_lock({_RUN_LOCK})"), lock)
        await conn.commit()
        try:
            await _drop_abandoned(conn)
            return await _run(engine, conn, run, settings, as_of, chunk or CHUNK, workers or WORKERS)
        finally:
            await conn.rollback()
            await conn.execute(text(f"DROP TABLE IF EXISTS {run}"))
            await conn.execute(text(f"SELECT pg_advisory_unlock({_RUN_LOCK})"), lock)
            await conn.commit()


async def _drop_abandoned(conn: AsyncConnection) -> None:
    """Drop the tables of runs whose connection is gone (the process died before its cleanup)."""
    names = (
        await conn.scalars(
            text(
                r"SELECT relname FROM pg_class WHERE relname LIKE 'value\_run\_%' AND relkind = 'r'"
                " AND relnamespace = CAST(current_schema() AS regnamespace)"
            )
        )
    ).all()
    await conn.commit()
    for name in names:
        async with conn.begin():
            if await conn.scalar(text(f"SELECT pg_try_advisory_xact_lock({_RUN_LOCK})"), {"ns": _LOCKS, "run": name}):
                await conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))


async def _run(
    engine: AsyncEngine,
    conn: AsyncConnection,
    run: str,
    settings: CustomerSettings,
    as_of: datetime,
    chunk: int,
    workers: int,
) -> dict[str, int]:
    started = time.perf_counter()
    async with conn.begin():
        # Scoring every customer is one long statement at scale (10-12 s at 1M): not held to the
        # sessions' statement timeout (tessera_shared.db.SessionLimits).
        await conn.execute(text("SET LOCAL statement_timeout = 0"))
        await conn.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        # Hashing a million customers' numeric sums spilled to disk (7 s); the (customer_id, date) indexes
        # deliver the fact rows already grouped (4.5 s).
        await conn.execute(text("SET LOCAL enable_hashagg = off"))
        # Both aggregates then arrive in customer order: merged as they come instead of hashing a million
        # of them, and the later joins by id and the chunk numbering reuse that order (1M: ~0.4 s less).
        await conn.execute(text("SET LOCAL enable_hashjoin = off"))
        await conn.execute(_of(_CREATE, run))
        await conn.execute(_of(_FACTS, run), {**facts_params(settings, as_of), "chunk": chunk})
        await conn.execute(text(f"CREATE INDEX ON {run} (chunk)"))
        await conn.execute(text(f"ANALYZE {run}"))
        # The run's table name is made here (value_run_ and a random hex): no input reaches the SQL.
        by_chunk = f"SELECT chunk, count(*) FROM {run} GROUP BY chunk ORDER BY chunk"  # noqa: S608 - see above
        sizes = (await conn.execute(text(by_chunk))).all()
    customers, chunks = sum(size for _, size in sizes), [number for number, _ in sizes]
    scored = time.perf_counter()
    now = utcnow()
    params = {
        "as_of": as_of,
        "churn_days": settings.churn_window_days,
        "topic": topic_for("customer"),
        "template": envelope_template(settings, as_of, now),
        "event_token": str(_EVENT_TOKEN),
        "customer_token": str(_CUSTOMER_TOKEN),
        "now": now,
        "ms": int(now.timestamp() * 1000),
    }
    async with contextlib.AsyncExitStack() as stack:
        others = [await stack.enter_async_context(engine.connect()) for _ in range(min(workers, len(chunks)) - 1)]
        changed = await _apply(_of(_APPLY, run), params, chunks, [conn, *others])
    log.info(
        "value recomputation: %s customers scored in %.1f s, %s chunks (%s in id order) applied in %.1f s"
        " on %s connections, %s tier changes",
        customers,
        scored - started,
        len(chunks),
        sum(number >= 0 for number in chunks),
        time.perf_counter() - scored,
        len(others) + 1,
        changed,
    )
    return {"customers": customers, "tier_changes": changed}


# Pauses before the sweeps over the customers left by the chunks (held by a consumer's transaction
# or another run's chunk: those end within milliseconds); what is still left is then applied one
# customer per transaction, waiting for its lock while holding no other.
SWEEPS = (0.05, 0.2, 0.5)
# Tries of one transaction that lost a race (a deadlock cannot involve the statement above, but the
# one-customer transactions wait for a lock, and this is cheap insurance).
ATTEMPTS = 5

Left = dict[int, list[uuid.UUID]]  # chunk -> customers of it not yet applied


async def _apply_chunk(
    conn: AsyncConnection, statement: TextClause, params: dict[str, Any], chunk: int, only: list[uuid.UUID] | None
) -> tuple[int, list[uuid.UUID]]:
    """One transaction: the chunk's customers (or those of ``only``) that are free, updated; returns
    the tier changes and the live customers left."""

    async def work() -> tuple[int, list[uuid.UUID]]:
        async with conn.begin():
            changed, left = (await conn.execute(statement, {**params, "chunk": chunk, "only": only})).one()
        return int(changed or 0), list(left or [])

    return await retry_lost_races(work, attempts=ATTEMPTS, what="value chunk")


async def _apply_one(
    conn: AsyncConnection, statement: TextClause, params: dict[str, Any], chunk: int, customer: uuid.UUID
) -> int:
    """One customer in a transaction of its own: wait for its lock (holding none), then apply it on its
    committed state. A customer merged or gone meanwhile is left as it is."""

    async def work() -> int:
        async with conn.begin():
            await conn.execute(_LOCK_ONE, {"id": customer})
            changed, _ = (await conn.execute(statement, {**params, "chunk": chunk, "only": [customer]})).one()
        return int(changed or 0)

    return await retry_lost_races(work, attempts=ATTEMPTS, what="value customer")


_LOCK_ONE = text("SELECT FROM customers WHERE id = :id FOR UPDATE")


async def _apply(statement: TextClause, params: dict[str, Any], chunks: list[int], conns: list[AsyncConnection]) -> int:
    """Each connection takes the next chunk until none is left, one transaction per chunk (its free rows
    locked, never waiting); after a failure the others finish the chunk they hold and stop, and the error
    is raised. Then the customers the chunks left: swept again after short pauses, and the last of them
    one at a time."""
    numbers = iter(chunks)
    changed: list[int] = []
    left: Left = {}
    failed = False

    async def worker(conn: AsyncConnection) -> None:
        nonlocal failed
        try:
            for number in numbers:
                if failed:
                    return
                count, rest = await _apply_chunk(conn, statement, params, number, None)
                changed.append(count)
                if rest:
                    left[number] = rest
        except BaseException:
            failed = True
            raise

    for outcome in await asyncio.gather(*(worker(c) for c in conns), return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome
    conn = conns[0]
    for pause in SWEEPS:
        if not left:
            break
        await asyncio.sleep(pause)
        for number, ids in sorted(left.items()):
            count, rest = await _apply_chunk(conn, statement, params, number, ids)
            changed.append(count)
            if rest:
                left[number] = rest
            else:
                del left[number]
    for number, ids in sorted(left.items()):
        log.info("value recomputation: %s customers of chunk %s applied one at a time", len(ids), number)
        for customer in ids:
            changed.append(await _apply_one(conn, statement, params, number, customer))
    return sum(changed)
