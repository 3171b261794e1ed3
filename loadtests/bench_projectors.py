"""Projector benchmark: one run, side by side, on the servers of ``merchant infra env``.

    python -m loadtests.bench_projectors --events 4000 --rounds 3 --rate 20 --seconds 60

In a database and topics of its own (deleted afterwards), over one random valid stream
(``merchant_testkit/event_stream.py``) stored in the event store and produced to Kafka once:

1. throughput, ``--rounds`` alternating rounds, each from offset 0 with a fresh consumer
   group and empty target collections, medians reported:
   - baseline: a bare aiokafka consume loop that decodes each envelope and writes one
     document per event with one unordered ``bulk_write`` of inserts per batch, committing
     after it (no read models, guards or derived views) — the ceiling for
     "consume + bulk write";
   - the projector process (``merchant serve projectors``), from "started" until its
     consumer groups have no lag;
2. rebuild from the event store (``projectors.entrypoints.rebuild``) of the three streams, events/s;
   and the same replay with the guarded ``ReplaceOne`` writer forced, to show what the
   detected writer (``projectors.adapters.bulk.detect_writer``) buys on this server;
3. command-to-visible latency on the real stack (command API, projectors, query API):
   ``--rate`` stock adjustments per second for ``--seconds``, round robin over products;
   each sample is the time from the command API's 202 (which names the new version) to
   the query API's ``GET /v1/products/{id}`` (through its caches) showing that version.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from shared import mongo
from shared.kafka import delete_topics_with_prefix, ensure_topics, reliable_producer
from shared.settings import ProjectorSettings

from loadtests.bench.projectors import consume_and_write, raw_consumer
from merchant_testkit.event_stream import generate, produce, store
from merchant_testkit.processes import stream_service
from merchant_testkit.stack import start_stack
from projectors.adapters.bulk import REPLACE, detect_writer
from projectors.entrypoints.rebuild import drop_shadows, rebuild, replay, shadow_names
from projectors.entrypoints.status import lag
from projectors.entrypoints.streams import MERCHANTS_STREAM, PRODUCTS_STREAM, STREAMS


async def baseline(settings: ProjectorSettings, db, total: int, group: str) -> float:
    """The raw consume + bulk-write loop of ``merchant bench --only projectors``."""
    consumer = raw_consumer(settings, group)
    await consumer.start()
    await db.drop_collection("bench_raw")
    began = time.monotonic()
    try:
        seen = await consume_and_write(consumer, db, total)
    finally:
        await consumer.stop()
    return seen / (time.monotonic() - began)


async def projector(settings: ProjectorSettings, db, env: dict, total: int, group: str) -> float:
    for stream in STREAMS:
        for model in stream.read_models:
            await db.drop_collection(model)
    round_settings = settings.model_copy(update={"group_id": group})
    service = stream_service(
        group, "projectors", {**env, "PROJECTOR_GROUP_ID": group}, Path(tempfile.mkdtemp())
    ).start()
    try:
        while "started successfully" not in service.log_path.read_text(errors="replace"):
            await asyncio.sleep(0.05)  # measure projecting, not start-up and index creation
        began = time.monotonic()
        while True:
            rows = await lag(round_settings)
            if rows and not any(r.events_behind for r in rows):
                return total / (time.monotonic() - began)
            await asyncio.sleep(0.2)
    finally:
        service.stop()


async def replay_rate(db, writer) -> float:
    """Events/s of replaying all three streams into empty shadows with ``writer``."""
    events, began = 0, time.monotonic()
    for stream in STREAMS:
        names = shadow_names(stream, writer)
        for physical in names.values():
            await db.drop_collection(physical)
        if stream is PRODUCTS_STREAM:
            events += await replay(db, MERCHANTS_STREAM, names)
        events += await replay(db, stream, names)
        await drop_shadows(db, stream.state)
    return events / (time.monotonic() - began)


async def command_to_visible(env: dict, db, rate: float, seconds: float, products: int) -> list[float]:
    from command_api.bootstrap import bootstrap

    side = bootstrap(db=db)
    await side.prepare()
    merchant = await side.merchants.create("Bench Shop")
    auth = {"Authorization": f"Bearer {merchant.secret_key}"}
    stack = start_stack(
        ("command-api", "query-api", "projectors"),
        env,
        Path(tempfile.mkdtemp()),
        {"PROJECTOR_GROUP_ID": f"latency{uuid.uuid4().hex[:6]}"},
    )
    samples: list[float] = []
    failures: list[int] = []
    try:
        async with (
            httpx.AsyncClient(base_url=stack.command_api.url, timeout=30) as commands,
            httpx.AsyncClient(base_url=stack.query_api.url, timeout=30) as queries,
        ):
            ids = []
            for i in range(products):
                body = {
                    "sku": f"B-{i}-{uuid.uuid4().hex[:6]}",
                    "name": f"Bench {i}",
                    "category": "shoes",
                    "price": {"amount": 1000 + i, "currency": "EUR"},
                    "stock": 1000,
                }
                ids.append((await commands.post("/v1/products", json=body, headers=auth)).json()["id"])
            for product_id in ids:
                await visible(queries, product_id, 1)

            async def one(product_id: str) -> None:
                response = await commands.post(
                    f"/v1/products/{product_id}/stock", headers=auth, json={"delta": 1, "reason": "bench"}
                )
                accepted = time.monotonic()
                if response.status_code != 202:  # e.g. a command timeout on an overloaded machine
                    failures.append(response.status_code)
                    return
                await visible(queries, product_id, response.json()["version"])
                samples.append(time.monotonic() - accepted)

            tasks, began, n = [], time.monotonic(), 0
            while time.monotonic() - began < seconds:
                tasks.append(asyncio.create_task(one(ids[n % len(ids)])))
                n += 1
                await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
            await asyncio.gather(*tasks)
    finally:
        stack.stop()
    if failures:
        print(f"commands not accepted: {len(failures)} (status {sorted(set(failures))})", flush=True)
    return samples


async def visible(client: httpx.AsyncClient, product_id: str, version: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"/v1/products/{product_id}")
        if response.status_code == 200 and response.json()["version"] >= version:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{product_id} v{version} not visible: {response.status_code}")
        await asyncio.sleep(0.005)


def percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1] if len(samples) >= 100 else max(samples)


async def main(args) -> None:
    run = f"bench_{uuid.uuid4().hex[:8]}"
    settings = ProjectorSettings(kafka_topic_prefix=f"{run}.", mongodb_database=run, group_id=run)
    env_base = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "MONGODB_URL": settings.mongodb_url,
        "REDIS_URL": settings.redis_url,
        "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
        "MONGODB_DATABASE": run,
    }
    client = mongo.open_mongo(settings)
    db = mongo.database(client, settings)
    try:
        await ensure_topics(settings)
        events = generate(args.events, seed=1)
        await store(db, events)
        producer = reliable_producer(settings, linger_ms=20)
        await producer.start()
        await produce(producer, settings, events)
        await producer.stop()

        raw, projected = [], []
        for n in range(args.rounds):
            raw.append(await baseline(settings, db, len(events), f"raw{n}"))
            projected.append(await projector(settings, db, env_base, len(events), f"proj{n}"))
            print(
                f"round {n + 1}: baseline {raw[-1]:,.0f} events/s, projector {projected[-1]:,.0f} events/s", flush=True
            )
        writer = await detect_writer(db)
        rebuild_rate = replay_rate_detected = await replay_rate(db, writer)
        replace_rate = await replay_rate(db, REPLACE) if writer.swap else replay_rate_detected
        result = await rebuild(db, "orders", swap_in=False)  # the CLI's path, for its own figure
        await drop_shadows(db, "orders")
        print(
            f"rebuild (replay, detected writer): {rebuild_rate:,.0f} events/s; with guarded ReplaceOne: "
            f"{replace_rate:,.0f} events/s; orders rebuild via projectors.entrypoints.rebuild: "
            f"{result.events_per_second:,.0f} events/s",
            flush=True,
        )
        samples = await command_to_visible(env_base, db, args.rate, args.seconds, args.products)

        ratio = statistics.median(projected) / statistics.median(raw)
        print(f"\nevents: {len(events)}, rounds: {args.rounds}, writer: {'swap' if writer.swap else 'replace'}")
        print(f"baseline consume+bulk-write: median {statistics.median(raw):,.0f} events/s {[round(r) for r in raw]}")
        print(
            f"projector (1 process): median {statistics.median(projected):,.0f} events/s "
            f"{[round(p) for p in projected]} = {ratio:.2f} of baseline"
        )
        print(
            f"command-to-visible at {args.rate}/s for {args.seconds:.0f} s: p50 "
            f"{statistics.median(samples) * 1000:.0f} ms, p95 {percentile(samples, 95) * 1000:.0f} ms "
            f"({len(samples)} samples)"
        )
    finally:
        await delete_topics_with_prefix(settings)
        await client.drop_database(run)
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=20.0, help="commands/s for the latency step")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--products", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
