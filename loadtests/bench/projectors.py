"""Projector events/s vs a raw aiokafka consume + pymongo bulk-write loop over the same
events. Each round produces a fresh batch of the random valid event stream once; both
sides then consume exactly that batch with consumer groups of their own, the order
flipping every round. Both consumers are started (and have joined their groups) before
the first round, so neither start-up nor group joins are measured; the projector process
is paused (SIGSTOP) while a batch is produced and while the raw loop runs, so producing
is not measured either and the two never compete for the CPU. The raw loop's fetcher may
prefetch the batch while it is produced (a small head start for the baseline).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import InsertOne

from shared.kafka import reliable_producer
from shared.settings import ProjectorSettings

from loadtests.bench.rounds import Pair, RoundResult, Side
from merchant_testkit.event_stream import generate, produce
from projectors.entrypoints.streams import STREAMS

RAW_GROUP = "bench-raw"
# A paused projector must not lose its partitions: far above any pause of a round.
PAUSE_TOLERANCE_MS = 60_000


def raw_consumer(settings, group_id: str = RAW_GROUP) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *(settings.topic(s.topic) for s in STREAMS),
        group_id=group_id,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=PAUSE_TOLERANCE_MS,
    )


async def consume_and_write(consumer: AIOKafkaConsumer, db, total: int) -> int:
    """The baseline: consume, decode each envelope, insert one document per event with one
    unordered ``bulk_write`` per batch, commit (no read models, guards or derived views;
    inserts, because upserts are FerretDB's slow path) until ``total`` events are written."""
    seen = 0
    while seen < total:
        batches = await consumer.getmany(timeout_ms=200, max_records=1000)
        ops = []
        for records in batches.values():
            for record in records:
                event = orjson.loads(record.value)
                ops.append(
                    InsertOne(
                        {
                            "aggregate_id": event["aggregate_id"],
                            "version": event["aggregate_version"],
                            "data": event["data"],
                        }
                    )
                )
        if ops:
            await db["bench_raw"].bulk_write(ops, ordered=False)
            await consumer.commit()
            seen += len(ops)
    return seen


async def end_offsets(admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, settings) -> dict[TopicPartition, int]:
    topics = [settings.topic(s.topic) for s in STREAMS]
    partitions = [
        TopicPartition(t["topic"], p["partition"]) for t in await admin.describe_topics(topics) for p in t["partitions"]
    ]
    if not partitions:
        raise RuntimeError(f"no partitions for {topics}")
    return await consumer.end_offsets(partitions)


async def wait_committed(admin: AIOKafkaAdminClient, group_id: str, ends: dict[TopicPartition, int]) -> None:
    """Until every stream's group (``<group>.<stream>``) has committed up to ``ends``."""
    for stream in STREAMS:
        mine = [tp for tp in ends if tp.topic.endswith(stream.topic)]
        while True:
            committed = await admin.list_consumer_group_offsets(f"{group_id}.{stream.name}", partitions=mine)
            if all((committed.get(tp) and committed[tp].offset or 0) >= ends[tp] for tp in mine):
                break
            await asyncio.sleep(0.05)


def pause(service, paused: bool) -> None:
    os.killpg(service.process.pid, signal.SIGSTOP if paused else signal.SIGCONT)


async def wait_started(service) -> None:
    """Until the projector's consumers have joined their groups (they commit nothing before
    the first batch, so: until FastStream says it started and a first poll had time)."""
    while "started successfully" not in service.log_path.read_text(errors="replace"):
        await asyncio.sleep(0.05)


@asynccontextmanager
async def pairs(bench, options) -> AsyncIterator[list[Pair]]:
    await bench.ensure_topics()
    settings = ProjectorSettings(**{k.lower(): v for k, v in bench.env.items()}, group_id=bench.namespace)
    producer = reliable_producer(settings, linger_ms=20)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    consumer = raw_consumer(settings)
    await producer.start()
    await admin.start()
    await consumer.start()
    service = bench.serve(
        "projectors",
        "projector",
        log_level=None,
        args=("--metrics-port", "0"),
        PROJECTOR_GROUP_ID=bench.namespace,
        PROJECTOR_SESSION_TIMEOUT_MS=str(PAUSE_TOLERANCE_MS),
    )
    await wait_started(service)
    await warm_up(producer, settings, consumer, bench, admin, service)
    produced: dict[int, dict] = {}

    async def batch(number: int) -> dict:
        """The round's events, produced once (projector paused) for both sides."""
        if number not in produced:
            pause(service, True)
            await produce(producer, settings, generate(options.events, seed=1000 + number))
            produced[number] = await end_offsets(admin, consumer, settings)
        return produced[number]

    async def raw(number: int) -> RoundResult:
        await batch(number)
        pause(service, True)
        began = time.perf_counter()
        events = await consume_and_write(consumer, bench.db, options.events)
        return RoundResult(events, time.perf_counter() - began)

    async def projector(number: int) -> RoundResult:
        ends = await batch(number)
        began = time.perf_counter()
        pause(service, False)
        await wait_committed(admin, bench.namespace, ends)
        return RoundResult(options.events, time.perf_counter() - began)

    try:
        yield [
            Pair(
                "projector",
                "projectors",
                "events/s",
                Side("projector process (5 read models)", projector),
                Side("raw aiokafka consume + bulk insert", raw),
            )
        ]
    finally:
        pause(service, False)
        bench.stop(service)
        await consumer.stop()
        await admin.close()
        await producer.stop()


async def warm_up(producer, settings, consumer, bench, admin, service) -> None:
    """A small batch through both sides, one after the other (FerretDB's SQLite answers
    concurrent writers with SQLITE_BUSY): groups joined, partitions assigned, first fetch done."""
    pause(service, True)
    await produce(producer, settings, generate(50, seed=999))
    ends = await end_offsets(admin, consumer, settings)
    await consume_and_write(consumer, bench.db, 50)
    pause(service, False)
    await wait_committed(admin, bench.namespace, ends)
