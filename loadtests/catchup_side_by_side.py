"""The live projector's catch-up with several write settings side by side, on one seed, per
step of a batch (issue 15).

    python -m loadtests.catchup_side_by_side --merchants 4 --products 2000 --orders 4000 \\
        --variants 1:1000,4:1000 --rounds 4

In a database and topics of its own (deleted afterwards unless ``--keep``), on the servers
of ``merchant infra env``:

1. ``merchant seed`` writes the history (as ``loadtests.projector_catchup`` does);
2. each stream's topic is read from its start in batches of the variant's batch size, as
   the projector's consumer fetches them (``max_records``);
3. per run, the read models are dropped and the history applied from scratch with
   ``engine.apply_batch`` in this process: the merchants first, then the products and the
   orders streams at once (as one ``merchant serve projectors`` process runs them), into a
   ``MongoReadModels`` of the variant's ``write_concurrency``. Variants alternate, round
   after round, so a change of the machine's load falls on each;
4. each run prints its events/s (both streams' wall time, and each stream's), the load
   average, and the seconds per step of a batch from ``merchant_projector_phase_seconds``
   (``projectors.application.engine``).

Not the projector process: no Kafka fetches while applying, no cache invalidation, no
commits; what it measures is what a batch costs the store. ``loadtests.projector_catchup``
times the real process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.observability import metrics
from shared.settings import ProjectorSettings

from loadtests.projector_catchup import own_namespace, seed
from projectors.adapters.bulk import detect_writer
from projectors.adapters.indexes import ensure_read_model_indexes
from projectors.adapters.mongo_store import MongoReadModels, StoredEvents
from projectors.application.engine import Stream, apply_batch
from projectors.entrypoints.app import decode_records
from projectors.entrypoints.names import topic_partitions
from projectors.entrypoints.streams import MERCHANTS_STREAM, ORDERS_STREAM, PRODUCTS_STREAM, STREAMS


async def fetch(settings: ProjectorSettings, topic: str, batch_size: int) -> list[list[Any]]:
    """The topic from its start, in the batches a consumer of ``max_records`` gets."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(await topic_partitions(settings, topic))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        total = sum((await consumer.end_offsets(partitions)).values())
        batches: list[list[Any]] = []
        while sum(map(len, batches)) < total:
            got = await consumer.getmany(timeout_ms=2000, max_records=batch_size)
            if not got:
                break
            batches.append([r for records in got.values() for r in records])
        return batches
    finally:
        await consumer.stop()


def phase_seconds() -> dict[tuple[str, str], float]:
    return {
        (s.labels["stream"], s.labels["phase"]): s.value
        for m in metrics.projector_phase_seconds.collect()
        for s in m.samples
        if s.name.endswith("_sum")
    }


async def one_run(db: Any, store: MongoReadModels, batches: dict[str, list[list[Any]]]) -> dict[str, tuple[int, float]]:
    history = StoredEvents(db)
    for records in batches[MERCHANTS_STREAM.name]:
        await apply_batch(store, history, MERCHANTS_STREAM, decode_records(records)[0])
    walls: dict[str, tuple[int, float]] = {}

    async def run(stream: Stream) -> None:
        began, events = time.perf_counter(), 0
        for records in batches[stream.name]:
            await apply_batch(store, history, stream, decode_records(records)[0])
            events += len(records)
        walls[stream.name] = (events, time.perf_counter() - began)

    await asyncio.gather(run(PRODUCTS_STREAM), run(ORDERS_STREAM))
    return walls


async def main(args: argparse.Namespace) -> int:
    variants = [tuple(int(x) for x in v.split(":")) for v in args.variants.split(",")]
    async with own_namespace(args.namespace, args.keep) as (settings, env, db):
        print(f"seeding into {args.namespace} ...", flush=True)
        seed(env, args, Path(tempfile.mkdtemp()) / "seed.json")
        history = set(await db.list_collection_names())  # the event store's, kept
        writer = await detect_writer(db)
        fetched: dict[tuple[str, int], list[list[Any]]] = {}
        totals: dict[tuple[int, int], list[float]] = {v: [] for v in variants}
        for round_ in range(args.rounds):
            for concurrency, batch_size in variants:
                for stream in STREAMS:
                    if (stream.name, batch_size) not in fetched:
                        fetched[stream.name, batch_size] = await fetch(
                            settings, settings.topic(stream.topic), batch_size
                        )
                for name in await db.list_collection_names():
                    if name not in history:
                        await db.drop_collection(name)
                await ensure_read_model_indexes(db)
                store = MongoReadModels(db, writer, write_concurrency=concurrency)
                before = phase_seconds()
                began = time.perf_counter()
                walls = await one_run(db, store, {s.name: fetched[s.name, batch_size] for s in STREAMS})
                wall = time.perf_counter() - began
                events = sum(n for n, _ in walls.values())
                totals[concurrency, batch_size].append(events / wall)
                load = " ".join(f"{x:.2f}" for x in os.getloadavg())
                streams = ", ".join(f"{s} {n:,} in {t:.1f} s" for s, (n, t) in walls.items())
                print(
                    f"round {round_} concurrency {concurrency} batch {batch_size}: {events:,} events in "
                    f"{wall:.1f} s = {events / wall:,.0f} events/s ({streams}); load {load}",
                    flush=True,
                )
                after = phase_seconds()
                spent = {k: after[k] - before.get(k, 0.0) for k in sorted(after)}
                print("   s per step: " + ", ".join(f"{s}.{p} {v:.1f}" for (s, p), v in spent.items() if v >= 0.05))
        print()
        for (concurrency, batch_size), rates in totals.items():
            ordered = sorted(rates)
            print(
                f"concurrency {concurrency} batch {batch_size}: median {ordered[len(ordered) // 2]:,.0f} events/s "
                f"over {len(rates)} runs ({', '.join(f'{r:,.0f}' for r in rates)})"
            )
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtests.catchup_side_by_side", description=__doc__.splitlines()[0])
    p.add_argument("--merchants", type=int, default=4)
    p.add_argument("--products", type=int, default=2_000)
    p.add_argument("--orders", type=int, default=4_000)
    p.add_argument("--variants", default="1:1000,4:1000", help="write_concurrency:batch_size, comma-separated.")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--namespace", default=f"catchup_{uuid.uuid4().hex[:8]}", help="Database and topic prefix.")
    p.add_argument("--keep", action="store_true", help="Keep the database and topics (to inspect them).")
    return p


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parser().parse_args())))
