"""Test sessions delete the topics of the namespaces they used (a long-lived test broker would
otherwise run out of file descriptors)."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient

from tessera_shared.kafka import contract_topics, ensure_topics
from tessera_shared.testing.plugin import delete_topics_with_prefixes, new_namespace
from tessera_shared.testing.waiting import eventually


async def test_topics_of_the_given_namespaces_are_deleted_and_no_others(kafka_bootstrap: str) -> None:
    doomed, kept = new_namespace(), new_namespace("keep")
    await ensure_topics(kafka_bootstrap, contract_topics(doomed)[:2] + contract_topics(kept)[:1], partitions=1)
    assert await delete_topics_with_prefixes(kafka_bootstrap, (doomed,)) == 2
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()

    async def only_kept_left() -> list[str] | None:
        left = [t for t in await admin.list_topics() if t.startswith((doomed, kept))]
        return left if all(t.startswith(kept) for t in left) else None

    try:
        # The broker drops a deleted topic from its metadata a moment after it answers the delete.
        left = await eventually(only_kept_left, seconds=30)
    finally:
        await admin.close()
    assert left == contract_topics(kept)[:1]
