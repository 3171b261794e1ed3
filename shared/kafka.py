"""Kafka client factories (aiokafka). Opened in lifespans, never at import."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner, murmur2

from shared.settings import ServerSettings
from shared.topics import DOMAIN_TOPIC_PARTITIONS, DOMAIN_TOPICS

# Keys whose hash is remembered. Products are the keys that repeat (every checkout writes
# the products it holds stock of); an order's key is sent a few times in its life. ~230 B
# per entry (the key's bytes and the cache's link, measured with tracemalloc on 2026-12-06):
# 8,192 keep ~1.9 MB and a few thousand hot products; 65,536 kept ~15 MB, reached only
# after some 65,000 new orders, so it showed as a slope in every run of the command API.
KEY_HASHES = 8_192


@functools.lru_cache(maxsize=KEY_HASHES)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def keyed_partition(key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
    """aiokafka's ``DefaultPartitioner`` (the Java client's murmur2 of the key, so every
    producer puts a key in the same partition), with the hash of recent keys remembered:
    murmur2 is pure Python, ~10 µs per message, and an aggregate's commands repeat its key."""
    if key is None:
        return int(DefaultPartitioner()(key, all_partitions, available))
    return all_partitions[_key_hash(key) % len(all_partitions)]


def reliable_producer(settings: ServerSettings, **options: Any) -> AIOKafkaProducer:
    """The producer for domain events: idempotent, ``acks=all``, ordered per key.

    Idempotence keeps a retried send from writing a duplicate into the partition; the
    relay may still re-publish after a crash, which consumers absorb (at-least-once).
    """
    options.setdefault("request_timeout_ms", 10_000)
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=options.pop("linger_ms", 2),
        partitioner=options.pop("partitioner", keyed_partition),
        **options,
    )


async def ensure_topics(
    settings: ServerSettings,
    topics: tuple[str, ...] | None = None,
    partitions: int = DOMAIN_TOPIC_PARTITIONS,
    retention_ms: int = -1,
) -> list[str]:
    """Create the topics that do not exist yet (idempotent). Returns those created.

    ``topics`` are full names; by default the domain topics under the settings' prefix.
    """
    if topics is None:
        topics = tuple(settings.topic(t) for t in DOMAIN_TOPICS)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name, num_partitions=partitions, replication_factor=1, topic_configs={"retention.ms": str(retention_ms)}
            )
            for name in topics
            if name not in existing
        ]
        if not wanted:
            return []
        try:
            await admin.create_topics(wanted)
        except TopicAlreadyExistsError:
            pass  # a concurrent creator won; the topic exists, which is all we want
        return [t.name for t in wanted]
    finally:
        await admin.close()


async def delete_topics_with_prefix(settings: ServerSettings) -> list[str]:
    """Delete every topic under the settings' prefix (test clean-up). Refuses no prefix."""
    if not settings.kafka_topic_prefix:
        raise ValueError("refusing to delete topics without a prefix")
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(settings.kafka_topic_prefix)]
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()


async def ping(settings: ServerSettings) -> bool:
    """Ready means a metadata call succeeds, not merely an open port."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=3000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        try:
            await admin.close()
        except Exception:
            pass
