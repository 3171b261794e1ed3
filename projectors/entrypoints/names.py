"""Merchant renames fanned out to the products partitions, so that every product document
has one writer: the owner of its products partition (``application.merchant_names``).

The merchants subscriber, after each batch, produces every merchant it touched (name and
version) to each partition of the internal topic ``projector.merchant-names``, which has
as many partitions as ``products.events``. The products subscriber reads both topics in
one consumer group with the range assignor, so it owns partition *p* of both; a rename
from partition *p* is applied to the merchant's products that Kafka's default partitioner
puts in products partition *p* (murmur2 of the product id, as the publisher produced them).
It runs in the products subscriber's own task, between its batches, so it never races
them, and it is committed with them (at least once; renames are idempotent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import murmur2

from shared.invalidation import Change
from shared.settings import ServerSettings

from projectors.application.merchant_names import Rename, apply_renames
from projectors.application.ports import Doc, ReadModelStore

log = logging.getLogger(__name__)


class Record(Protocol):
    """What the projectors read of a Kafka record (aiokafka's ConsumerRecord; untyped)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


async def topic_partitions(settings: ServerSettings, topic: str) -> int:
    """How many partitions ``topic`` has (0: it does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        described: list[dict[str, Any]] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sum(len(t["partitions"]) for t in described if not t.get("error_code"))


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a key (aiokafka's and Java's)."""
    hashed: int = murmur2(key.encode())  # aiokafka is untyped: say what it returns
    return (hashed & 0x7FFFFFFF) % partitions


async def fan_out(producer: AIOKafkaProducer, topic: str, partitions: int, merchants: Sequence[Doc]) -> None:
    """Every merchant's current name to every partition; waits for the acks."""
    sends = []
    for merchant in merchants:
        value = orjson.dumps({"merchant_id": merchant["_id"], "name": merchant["name"], "version": merchant["version"]})
        for partition in range(partitions):
            sends.append(await producer.send(topic, value, key=merchant["_id"].encode(), partition=partition))
    for sent in sends:
        await sent


def renames_of(records: Sequence[Record]) -> dict[int, list[Rename]]:
    """The renames of each partition, the latest per merchant; unreadable records skipped."""
    found: dict[int, dict[str, Rename]] = {}
    for record in records:
        try:
            body = orjson.loads(record.value or b"")
            rename = Rename(str(body["merchant_id"]), str(body["name"]), int(body["version"]))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning(
                "skipping an unreadable rename at %s/%s@%s: %s", record.topic, record.partition, record.offset, exc
            )
            continue
        latest = found.setdefault(record.partition, {})
        if rename.merchant_id not in latest or latest[rename.merchant_id].version < rename.version:
            latest[rename.merchant_id] = rename
    return {p: list(r.values()) for p, r in found.items()}


def owned_by(owners: Collection[int], partitions: int) -> Callable[[str], bool]:
    """Whether a product lives in one of the ``owners`` partitions of the products topic."""
    return lambda product_id: partition_for(product_id, partitions) in owners


async def apply_fanned_out(store: ReadModelStore, records: Sequence[Record], partitions: int) -> list[Change]:
    """Each rename of the batch into the products of the partitions that carried it.

    ``fan_out`` sends one rename to every partition, and a batch often holds it from several
    (one process owns them all): the merchant's products are read once per rename for all
    of those partitions, not once per partition — each read is of every product of the
    merchant (a catch-up's 20 renames in 6 partitions held one products batch of 3,186
    events for 184 s, 2026-12-06). A product still gets the rename only from its own
    partition's record, so its one writer is unchanged."""
    carriers: dict[Rename, set[int]] = {}
    for partition, renames in renames_of(records).items():
        for rename in renames:
            carriers.setdefault(rename, set()).add(partition)
    changes: list[Change] = []
    for rename, owners in carriers.items():
        changes += await apply_renames(store, [rename], owned_by(owners, partitions))
    return changes
