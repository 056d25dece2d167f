"""`tessera`: operations on the event stream.

  tessera dlq list     --service billing            what is parked, with errors and origins
  tessera dlq redrive  --service billing [--offset N ...]   send parked messages back to their origin topic
  tessera replay       --service billing (--from-offset N | --from-time ISO) [--topic crm.sales]
  tessera lag          --service billing            consumer lag per partition

Re-driven and replayed events are deduplicated by every consumer's inbox (source, id), so a
message whose effect was applied is not applied again. `replay` moves the service's consumer
group: stop the service first (Kafka refuses to move the offsets of an active group).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from tessera_shared.events.envelope import SERVICES, dlq_topic_for, parse_envelope, topic_for
from tessera_shared.kafka import make_producer

REDRIVE_GROUP = "tessera-{service}-dlq-redrive"


def _headers(record: Any) -> dict[str, str]:
    return {k: v.decode("utf-8", "replace") for k, v in (record.headers or ())}


def _describe(record: Any) -> dict[str, Any]:
    headers = _headers(record)
    try:
        event = parse_envelope(record.value)
        event_type, event_id = event.type, event.id
    except Exception:
        event_type, event_id = None, None
    return {
        "dlq_partition": record.partition,
        "dlq_offset": record.offset,
        "key": record.key.decode("utf-8", "replace") if record.key else None,
        "type": event_type,
        "id": event_id,
        "error": headers.get("dlq-error"),
        "error_type": headers.get("dlq-error-type"),
        "origin": (
            f"{headers.get('dlq-origin-topic')}[{headers.get('dlq-origin-partition')}]"
            f"@{headers.get('dlq-origin-offset')}"
        ),
        "attempts": headers.get("dlq-attempts"),
        "failed_at": headers.get("dlq-failed-at"),
    }


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    await consumer.topics()
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        # Not yet in this client's metadata: ask for it explicitly.
        consumer._client.add_topic(topic)
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(parts)]


async def _read_all(
    bootstrap: str, topic: str, *, group: str | None = None, from_committed: bool = False
) -> tuple[AIOKafkaConsumer, list[Any]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    tps = await _partitions(consumer, topic)
    if not tps:
        return consumer, []
    consumer.assign(tps)
    if not from_committed:
        await consumer.seek_to_beginning(*tps)
    end = await consumer.end_offsets(tps)
    records: list[Any] = []
    while any([await consumer.position(tp) < end[tp] for tp in tps]):
        batch = await consumer.getmany(timeout_ms=1000)
        for tp, recs in batch.items():
            records.extend(r for r in recs if r.offset < end[tp])
    return consumer, records


async def dlq_list(args: argparse.Namespace) -> int:
    consumer, records = await _read_all(args.bootstrap, dlq_topic_for(args.service, args.namespace))
    await consumer.stop()
    for record in records[-args.limit :]:
        print(json.dumps(_describe(record)))
    print(f"{len(records)} message(s) in {dlq_topic_for(args.service, args.namespace)}", file=sys.stderr)
    return 0


async def dlq_redrive(args: argparse.Namespace) -> int:
    """Publish parked messages back to their origin; remembered per DLQ so each goes back once."""
    group = REDRIVE_GROUP.format(service=args.service)
    consumer, records = await _read_all(
        args.bootstrap, dlq_topic_for(args.service, args.namespace), group=group, from_committed=True
    )
    chosen = [r for r in records if not args.offset or r.offset in args.offset]
    producer = make_producer(args.bootstrap, client_id="tessera-cli")
    await producer.start()
    try:
        for record in chosen:
            origin = _headers(record).get("dlq-origin-topic")
            if not origin:
                print(f"skipping dlq offset {record.offset}: no origin header", file=sys.stderr)
                continue
            headers = [(k, v) for k, v in (record.headers or ()) if not k.startswith("dlq-")]
            headers.append(("redriven-from", f"{record.topic}@{record.partition}:{record.offset}".encode()))
            await producer.send_and_wait(origin, value=record.value, key=record.key, headers=headers)
            print(json.dumps({"redriven": _describe(record)}))
        if records and not args.offset:
            # Everything up to the end has been handled: the next redrive starts after it.
            last: dict[TopicPartition, int] = {}
            for r in records:
                last[TopicPartition(r.topic, r.partition)] = r.offset + 1
            await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in last.items()})
    finally:
        await producer.stop()
        await consumer.stop()
    print(f"re-drove {len(chosen)} message(s)", file=sys.stderr)
    return 0


async def replay(args: argparse.Namespace) -> int:
    group = args.group or f"{args.namespace}tessera-{args.service}"
    topics = [args.topic] if args.topic else [topic_for(s, args.namespace) for s in args.producers]
    consumer = AIOKafkaConsumer(bootstrap_servers=args.bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [tp for t in topics for tp in await _partitions(consumer, t)]
        consumer.assign(tps)
        if args.from_time is not None:
            stamp = int(datetime.fromisoformat(args.from_time).timestamp() * 1000)
            found = await consumer.offsets_for_times({tp: stamp for tp in tps})
            end = await consumer.end_offsets(tps)
            offsets = {tp: (found[tp].offset if found[tp] else end[tp]) for tp in tps}
        else:
            begin = await consumer.beginning_offsets(tps)
            offsets = {tp: max(args.from_offset, begin[tp]) for tp in tps}
        await consumer.commit({tp: OffsetAndMetadata(o, "replay") for tp, o in offsets.items()})
    finally:
        await consumer.stop()
    for tp, o in sorted(offsets.items()):
        print(json.dumps({"group": group, "topic": tp.topic, "partition": tp.partition, "offset": o}))
    return 0


async def lag(args: argparse.Namespace) -> int:
    group = args.group or f"{args.namespace}tessera-{args.service}"
    consumer = AIOKafkaConsumer(bootstrap_servers=args.bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    total = 0
    try:
        tps = [tp for s in args.producers for tp in await _partitions(consumer, topic_for(s, args.namespace))]
        end = await consumer.end_offsets(tps)
        for tp in tps:
            committed = await consumer.committed(tp)
            behind = end[tp] - (committed or 0)
            total += behind
            print(
                json.dumps(
                    {
                        "topic": tp.topic,
                        "partition": tp.partition,
                        "committed": committed,
                        "end": end[tp],
                        "lag": behind,
                    }
                )
            )
    finally:
        await consumer.stop()
    print(f"total lag of {group}: {total}", file=sys.stderr)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tessera", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--bootstrap", default="127.0.0.1:9092")
    p.add_argument("--namespace", default="", help="topic namespace prefix, if the deployment uses one")
    sub = p.add_subparsers(dest="command", required=True)

    dlq = sub.add_parser("dlq", help="dead-letter topics").add_subparsers(dest="action", required=True)
    ls = dlq.add_parser("list")
    ls.add_argument("--service", choices=SERVICES, required=True)
    ls.add_argument("--limit", type=int, default=100)
    ls.set_defaults(run=dlq_list)
    rd = dlq.add_parser("redrive")
    rd.add_argument("--service", choices=SERVICES, required=True)
    rd.add_argument("--offset", type=int, action="append", help="only these DLQ offsets (repeatable)")
    rd.set_defaults(run=dlq_redrive)

    rp = sub.add_parser("replay", help="move a service's consumer group back to an offset or a time")
    rp.add_argument("--service", choices=SERVICES, required=True)
    rp.add_argument("--group", help="default: tessera-<service>")
    rp.add_argument("--topic", help="one topic (default: every contract topic of --producers)")
    rp.add_argument("--producers", nargs="+", default=list(SERVICES))
    when = rp.add_mutually_exclusive_group(required=True)
    when.add_argument("--from-offset", type=int)
    when.add_argument("--from-time", help="ISO 8601 with a timezone, e.g. 2026-11-23T10:00:00+00:00")
    rp.set_defaults(run=replay)

    lg = sub.add_parser("lag", help="consumer lag of a service's group")
    lg.add_argument("--service", choices=SERVICES, required=True)
    lg.add_argument("--group")
    lg.add_argument("--producers", nargs="+", default=list(SERVICES))
    lg.set_defaults(run=lag)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    status: int = asyncio.run(args.run(args))
    return status


if __name__ == "__main__":
    sys.exit(main())
