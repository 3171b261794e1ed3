"""Projector events/s vs a raw aiokafka consume + pymongo bulk-write loop over the same
events, and the projector on big read models vs the same projector on small ones.

Each round produces a fresh batch of the random valid event stream once (moved onto four
fixed merchants); every side then consumes exactly that batch with a consumer group of
its own, the order flipping every round. All consumers are started (and have joined their
groups) before the first round, so neither start-up nor group joins are measured; every
projector process is paused (SIGSTOP) while a batch is produced and while another side
runs, so producing is not measured either and the sides never compete for the CPU. The
raw loop's fetcher may prefetch the batch while it is produced (a small head start for
the baseline).

Pairs:
- ``projector``: the projector process (its own database: the bench's rounds only) vs the
  raw loop;
- ``projector on big read models``: a second projector process whose database holds
  ``catalogue`` products for each of the four merchants (seeded before the first round,
  through the engine in this process, as a rebuild would) vs the first projector's rate in
  the same round — issue 15 asks the two to stay within 20 %.

Both sides of every round are metered (``loadtests.bench.budget``): the CPU of the pair's
projector process (paused, so idle, during the raw loop), FerretDB, PostgreSQL, Kafka,
this process (the raw loop; on our side only its wait for the commits) and the machine,
read before the side starts and after it ends — the batch is produced before the first
reading. Our side also reads the projector's own counters (``loadtests.bench.phases``):
its MongoDB operations and the wall time of each step of its batches.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import InsertOne

from shared import mongo
from shared.kafka import reliable_producer
from shared.settings import ProjectorSettings

from loadtests.bench import budget
from loadtests.bench.catalogue_seed import onto, seed_catalogue
from loadtests.bench.phases import Counters
from loadtests.bench.rounds import Pair, RoundResult, RunRound, Side
from merchant_testkit.event_stream import generate, produce
from projectors.entrypoints.streams import STREAMS

RAW_GROUP = "bench-raw"
MERCHANTS = [f"m_bench{i}" for i in range(4)]
# A paused projector must not lose its partitions: far above any pause of a round.
PAUSE_TOLERANCE_MS = 60_000
# How the budget table (``loadtests.bench.budget``) names this group's processes.
# How the budget table (``loadtests.bench.budget``) names this group's processes; on our side
# the bench process only polls Kafka for the projector's commits (waiting).
BUDGET = budget.Subject("projectors", "event", "event", "projector process", "waiting / raw loop")


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
            if all(max(0, committed[tp].offset if tp in committed else 0) >= ends[tp] for tp in mine):
                break
            await asyncio.sleep(0.05)


def pause(service, paused: bool) -> None:
    os.killpg(service.process.pid, signal.SIGSTOP if paused else signal.SIGCONT)


async def wait_started(service) -> None:
    """Until the projector's consumers have joined their groups (they commit nothing before
    the first batch, so: until FastStream says it started and a first poll had time)."""
    while "started successfully" not in service.log_path.read_text(errors="replace"):
        await asyncio.sleep(0.05)


async def big_database(bench, per_merchant: int) -> str:
    """A database of the bench's namespace holding ``per_merchant`` products per merchant."""
    name = f"{bench.namespace}_big"
    client = mongo.open_mongo(bench.settings)
    try:
        events = await seed_catalogue(client[name], MERCHANTS, per_merchant)
    finally:
        await client.close()
    print(f"seeded {events:,} events ({per_merchant:,} products x {len(MERCHANTS)} merchants) into {name}", flush=True)
    return name


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
    big_db = await big_database(bench, options.catalogue)
    big_group = f"{bench.namespace}_big"
    services = {
        "small": bench.serve(
            "projectors",
            "projector",
            log_level=None,
            PROJECTOR_GROUP_ID=bench.namespace,
            PROJECTOR_SESSION_TIMEOUT_MS=str(PAUSE_TOLERANCE_MS),
        ),
        "big": bench.serve(
            "projectors",
            "projector on big read models",
            log_level=None,
            PROJECTOR_GROUP_ID=big_group,
            PROJECTOR_SESSION_TIMEOUT_MS=str(PAUSE_TOLERANCE_MS),
            MONGODB_DATABASE=big_db,
        ),
    }
    # Each projector's CPU (its pid) with the servers', and its counters at the end of each run.
    meters = {which: budget.meter(s.process.pid, bench.env) for which, s in services.items()}
    counters = {which: Counters(f"{s.ops_url}/metrics") for which, s in services.items()}
    produced: dict[int, dict] = {}
    counts: dict[int, int] = {}  # events produced per round (the merchants' own are dropped)
    small_rounds: dict[int, RoundResult] = {}

    def pause_all() -> None:
        for service in services.values():
            pause(service, True)

    async def batch(number: int) -> None:
        """The round's events, produced once (projectors paused) for every side."""
        if number not in produced:
            pause_all()
            events = onto(generate(options.events, seed=1000 + number), MERCHANTS)
            await produce(producer, settings, events)
            counts[number] = len(events)
            produced[number] = await end_offsets(admin, consumer, settings)

    def after_batch(run_round: RunRound) -> RunRound:
        """The round once its batch is there, every projector paused: producing is neither
        timed nor metered."""

        async def run(number: int) -> RoundResult:
            await batch(number)
            pause_all()
            return await run_round(number)

        return run

    async def raw(number: int) -> RoundResult:
        began = time.perf_counter()
        events = await consume_and_write(consumer, bench.db, counts[number])
        return RoundResult(events, time.perf_counter() - began)

    def projector(which: str, group: str) -> Callable[[int], Awaitable[RoundResult]]:
        async def run_round(number: int) -> RoundResult:
            began = time.perf_counter()
            pause(services[which], False)
            await wait_committed(admin, group, produced[number])
            result = RoundResult(counts[number], time.perf_counter() - began)
            result.work = await counters[which].take()  # while it answers
            pause(services[which], True)
            if which == "small":
                small_rounds[number] = result
            return result

        return run_round

    async def small_again(number: int) -> RoundResult:
        """The first pair's projector in this round (it already ran: its batch is consumed)."""
        return small_rounds[number]

    try:
        for service in services.values():
            await wait_started(service)
        await warm_up(producer, settings, consumer, bench, admin, services, big_group, counters)
        small = budget.metered(projector("small", bench.namespace), meters["small"], counts=True)
        big = budget.metered(projector("big", big_group), meters["big"], counts=True)
        yield [
            Pair(
                "projector",
                "projectors",
                "events/s",
                Side("projector process (6 read models and their counters)", after_batch(small)),
                Side("raw aiokafka consume + bulk insert", after_batch(budget.metered(raw, meters["small"]))),
            ),
            Pair(
                f"projector on {options.catalogue:,} products per merchant",
                "projectors",
                "events/s",
                Side(f"projector process, {options.catalogue:,} products per merchant", after_batch(big)),
                Side("the same, on the bench's own read models (this round, above)", small_again),
            ),
        ]
    finally:
        for service in services.values():
            pause(service, False)
            bench.stop(service)
        await bench.db.client.drop_database(big_db)
        await consumer.stop()
        await admin.close()
        await producer.stop()


async def warm_up(producer, settings, consumer, bench, admin, services, big_group, counters) -> None:
    """A small batch through every side, one after the other (FerretDB's SQLite answers
    concurrent writers with SQLITE_BUSY): groups joined, partitions assigned, first fetch done;
    each projector's counters read once it is done (what its first round counts from)."""
    for service in services.values():
        pause(service, True)
    events = onto(generate(50, seed=999), MERCHANTS)
    await produce(producer, settings, events)
    ends = await end_offsets(admin, consumer, settings)
    await consume_and_write(consumer, bench.db, len(events))
    for which, group in (("small", bench.namespace), ("big", big_group)):
        pause(services[which], False)
        await wait_committed(admin, group, ends)
        await counters[which].take()
        pause(services[which], True)
