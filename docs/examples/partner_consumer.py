"""A partner's consumer of Tessera events: plain aiokafka, no Tessera code needed.

    pip install aiokafka
    python partner_consumer.py --bootstrap 127.0.0.1:9092 --group acme-erp --topics crm.billing crm.sales

What it shows: its own consumer group; manual offset commits *after* the work is done
(at-least-once); deduplication by the CloudEvents identity (source, id) in the same local
transaction as the effect, so a redelivery has no second effect; per-customer order from
the message key; unknown event types skipped, unknown fields ignored (tolerant reader).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3

from aiokafka import AIOKafkaConsumer


def open_store(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE IF NOT EXISTS seen (source TEXT, id TEXT, PRIMARY KEY (source, id))")
    db.execute("CREATE TABLE IF NOT EXISTS paid_invoices (invoice_id TEXT PRIMARY KEY, customer_id TEXT, "
               "total TEXT, currency TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS won_deals (deal_id TEXT PRIMARY KEY, customer_id TEXT, "
               "amount TEXT, currency TEXT)")
    return db


def apply(db: sqlite3.Connection, event: dict) -> bool:
    """Apply one event once. Returns False for a duplicate."""
    with db:  # one transaction: the dedup row and the effect commit together
        try:
            db.execute("INSERT INTO seen VALUES (?, ?)", (event["source"], event["id"]))
        except sqlite3.IntegrityError:
            return False
        data = event["data"]
        if event["type"] == "invoice.paid":
            db.execute("INSERT OR REPLACE INTO paid_invoices VALUES (?, ?, ?, ?)",
                       (data["invoice_id"], data["customer_id"], data["total"], data["currency"]))
        elif event["type"] == "deal.won":
            # Money is a decimal string: keep it exact (never float()).
            db.execute("INSERT OR REPLACE INTO won_deals VALUES (?, ?, ?, ?)",
                       (data["deal_id"], data["customer_id"], data["amount"], data["currency"]))
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
    handled = 0
    try:
        while args.max_messages is None or handled < args.max_messages:
            batches = await consumer.getmany(timeout_ms=1000)
            if not batches and args.exit_when_idle:
                break
            for tp, records in batches.items():
                for record in records:
                    event = json.loads(record.value)
                    applied = apply(db, event)
                    handled += 1
                    print(json.dumps({"type": event["type"], "id": event["id"], "key": record.key.decode(),
                                      "applied": applied}), flush=True)
                await consumer.commit({tp: records[-1].offset + 1})
    finally:
        await consumer.stop()
        db.close()


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
