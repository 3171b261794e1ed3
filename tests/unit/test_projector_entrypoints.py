"""The projector's entry points that need no server: the time left at a rate, where a
product's partition is, how fanned-out renames are read, and the partition handover."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson
from aiokafka.partitioner import DefaultPartitioner

from projectors.application.merchant_names import Rename
from projectors.entrypoints.app import decode_records
from projectors.entrypoints.handover import Handover
from projectors.entrypoints.names import partition_for, renames_of
from projectors.entrypoints.status import eta


def test_time_left_is_events_behind_over_the_rate_and_none_when_nothing_moves():
    assert eta(0, 0.0) == 0.0
    assert eta(1_000, 250.0) == 4.0
    assert eta(1_000, 0.0) is None


def test_a_products_partition_is_the_one_the_publishers_partitioner_chose():
    partitions = list(range(6))
    for product_id in (f"p_{i:06x}" for i in range(0, 5000, 37)):
        assert partition_for(product_id, 6) == DefaultPartitioner()(product_id.encode(), partitions, partitions)


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None
    timestamp: int = 0


def rename(partition: int, offset: int, merchant: str, name: str, version: int) -> Record:
    body = orjson.dumps({"merchant_id": merchant, "name": name, "version": version})
    return Record("projector.merchant-names", partition, offset, body)


def test_renames_are_read_per_partition_latest_per_merchant_unreadable_ones_skipped():
    records = [
        rename(0, 1, "m1", "Old", 2),
        rename(0, 2, "m1", "New", 3),
        rename(0, 3, "m1", "Stale", 1),
        rename(1, 1, "m1", "New", 3),
        Record("projector.merchant-names", 1, 2, b"{not json"),
    ]
    assert renames_of(records) == {0: [Rename("m1", "New", 3)], 1: [Rename("m1", "New", 3)]}


def test_a_batch_ends_at_its_last_record_per_partition_malformed_ones_included():
    good = b'{"type":"ProductPublished","aggregate_type":"product","aggregate_id":"p1","aggregate_version":1,'
    good += b'"merchant_id":"m1","correlation_id":"c","data":{}}'
    batch, dead = decode_records([Record("t", 0, 5, good), Record("t", 0, 9, b"nope"), Record("t", 2, 3, good)])
    assert batch.ends == {"t#0": 9, "t#2": 3}
    assert [(d.source, d.position) for d in batch.deliveries] == [("t#0", 5), ("t#2", 3)]
    assert [r.offset for r, _ in dead] == [9]


async def test_partitions_are_handed_over_only_between_two_batches():
    handover, steps = Handover(), []

    async def batch() -> None:
        async with handover.batch():
            steps.append("batch begins")
            await asyncio.sleep(0.05)
            steps.append("batch ends")

    running = asyncio.create_task(batch())
    await asyncio.sleep(0.01)
    revoke = asyncio.create_task(handover.on_partitions_revoked(set()))
    await asyncio.sleep(0)
    next_batch = asyncio.create_task(batch())  # fetched during the rebalance: held
    await revoke
    steps.append("handed over")
    await asyncio.sleep(0.02)
    assert steps == ["batch begins", "batch ends", "handed over"]
    await handover.on_partitions_assigned(set())
    await asyncio.gather(running, next_batch)
    assert steps[3:] == ["batch begins", "batch ends"]
