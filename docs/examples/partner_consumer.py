"""A partner's consumer of Tessera events: plain aiokafka, no Tessera code needed.

    pip install aiokafka
    python partner_consumer.py --bootstrap 127.0.0.1:9092 --group acme-erp --topics crm.billing crm.sales

What it shows: its own consumer group; manual offset commits *after* the work is done
(at-least-once); deduplication by the CloudEvents identity (source, id) in the same local
transaction as the effect, so a redelivery has no second effect; per-customer order from
the message key; unknown event types skipped, unknown fields ignored (tolerant reader);
a message it cannot process (not JSON, not a CloudEvent, data it cannot apply) is parked
in its own table with the error and its origin (topic, partition, offset), counted, and
committed past, so one poison message never blocks the partition (nor every restart).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys

from aiokafka import AIOKafkaConsumer

REQUIRED = ("specversion", "id", "source", "type")


class Poison(ValueError):
    """A message this consumer cannot process, however often it is retried."""


def parse(value: bytes | None) -> dict:
    """The CloudEvent in a message value (structured JSON mode), or Poison."""
    try:
        event = json.loads(value) if value is not None else None
    except (UnicodeDecodeError, ValueError) as exc:
        raise Poison(f"not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise Poison("not a CloudEvent: the value is not a JSON object")
    missing = [a for a in REQUIRED if not isinstance(event.get(a), str) or not event[a]]
    if missing:
        raise Poison(f"not a CloudEvent: missing {', '.join(missing)}")
    if event["specversion"] != "1.0":
        raise Poison(f"not a CloudEvent 1.0: specversion {event['specversion']!r}")
    if not isinstance(event.get("data"), dict):
        raise Poison("not a Tessera event: data is not a JSON object")
    return event


def open_store(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE IF NOT EXISTS parked (topic TEXT, partition INTEGER, offset INTEGER, key BLOB, "
        "value BLOB, error TEXT, parked_at TEXT DEFAULT CURRENT_TIMESTAMP, "
        "PRIMARY KEY (topic, partition, offset))"
    )
    db.execute("CREATE TABLE IF NOT EXISTS seen (source TEXT, id TEXT, PRIMARY KEY (source, id))")
    db.execute(
        "CREATE TABLE IF NOT EXISTS paid_invoices (invoice_id TEXT PRIMARY KEY, customer_id TEXT, "
        "total TEXT, currency TEXT)"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS won_deals (deal_id TEXT PRIMARY KEY, customer_id TEXT, amount TEXT, currency TEXT)"
    )
    return db


def park(db: sqlite3.Connection, record, error: str) -> None:
    """Keep the message and why it failed, to look at and replay after a fix (once per offset)."""
    with db:
        db.execute(
            "INSERT OR IGNORE INTO parked (topic, partition, offset, key, value, error) VALUES (?, ?, ?, ?, ?, ?)",
            (record.topic, record.partition, record.offset, record.key, record.value, error),
        )


def apply(db: sqlite3.Connection, event: dict) -> bool:
    """Apply one event once. Returns False for a duplicate."""
    with db:  # one transaction: the dedup row and the effect commit together
        try:
            db.execute("INSERT INTO seen VALUES (?, ?)", (event["source"], event["id"]))
        except sqlite3.IntegrityError:
            return False
        data = event["data"]
        if event["type"] == "invoice.paid":
            db.execute(
                "INSERT OR REPLACE INTO paid_invoices VALUES (?, ?, ?, ?)",
                (data["invoice_id"], data["customer_id"], data["total"], data["currency"]),
            )
        elif event["type"] == "deal.won":
            # Money is a decimal string: keep it exact (never float()).
            db.execute(
                "INSERT OR REPLACE INTO won_deals VALUES (?, ?, ?, ?)",
                (data["deal_id"], data["customer_id"], data["amount"], data["currency"]),
            )
        return True


async def run(args: argparse.Namespace) -> None:
    db = open_store(args.store)
    consumer = AIOKafkaConsumer(
        *args.topics,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        enable_auto_commit=False,  # commit only after the effect is stored
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    handled = parked = 0
    try:
        while args.max_messages is None or handled < args.max_messages:
            batches = await consumer.getmany(timeout_ms=1000)
            if not batches and args.exit_when_idle:
                break
            for tp, records in batches.items():
                for record in records:
                    handled += 1
                    where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
                    try:
                        event = parse(record.value)
                        applied = apply(db, event)
                    except (Poison, KeyError, TypeError, sqlite3.Error) as exc:
                        # Never block the partition: park it, count it, commit past it.
                        error = f"{type(exc).__name__}: {exc}"
                        park(db, record, error)
                        parked += 1
                        print(json.dumps({**where, "parked": True, "error": error}), flush=True)
                        continue
                    print(
                        json.dumps(
                            {
                                "type": event["type"],
                                "id": event["id"],
                                "key": record.key.decode(errors="replace") if record.key else None,
                                "applied": applied,
                            }
                        ),
                        flush=True,
                    )
                await consumer.commit({tp: records[-1].offset + 1})
    finally:
        await consumer.stop()
        db.close()
        if parked:
            print(json.dumps({"parked_total": parked}), file=sys.stderr, flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bootstrap", default="127.0.0.1:9092")
    p.add_argument("--group", required=True, help="your own consumer group id")
    p.add_argument("--topics", nargs="+", default=["crm.billing", "crm.sales"])
    p.add_argument("--store", default="partner.db")
    p.add_argument("--max-messages", type=int)
    p.add_argument("--exit-when-idle", action="store_true")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
