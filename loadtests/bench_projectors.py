"""Projector benchmark: one run, side by side, on the running servers.

    python -m loadtests.bench_projectors --events 3000

1. baseline: the raw consume + bulk-write loop of ``merchant bench --only projectors``
   (``loadtests/bench/projectors.py``) — the ceiling for "consume + bulk write";
2. the projector process (``merchant serve projectors``) over the same events, from
   start until its consumer groups have no lag;
3. rebuild from the event store (``projectors.rebuild``) of the three streams;
4. event-produced-to-visible latency at a steady rate (issue 3's command API is not on
   main yet, so this starts at the produce, not at the HTTP command).
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

from loadtests.bench.projectors import consume_and_write, raw_consumer
from projectors.rebuild import drop_shadows, rebuild
from projectors.status import lag
from projectors.streams import STREAMS
from shared import mongo
from shared.kafka import delete_topics_with_prefix, ensure_topics, reliable_producer
from shared.settings import ProjectorSettings
from tests.support.event_stream import generate, produce, store
from tests.support.processes import stream_service


async def baseline(settings: ProjectorSettings, db, total: int) -> float:
    consumer = raw_consumer(settings)
    await consumer.start()
    began = time.monotonic()
    try:
        seen = await consume_and_write(consumer, db, total)
    finally:
        await consumer.stop()
    return seen / (time.monotonic() - began)


async def caught_up(settings: ProjectorSettings) -> None:
    while any(row.events_behind for row in await lag(settings)):
        await asyncio.sleep(0.25)


async def latency(settings: ProjectorSettings, db, producer, rate: float, count: int) -> list[float]:
    """Seconds from produce to the catalog document showing the new version."""
    product = await db["merchant_products"].find_one({"status": "published"})
    from shared.events import EventEnvelope

    samples, version = [], product["version"]
    for i in range(count):
        version += 1
        event = EventEnvelope(type="ProductStockAdjusted", aggregate_type="product", aggregate_id=product["_id"],
                              aggregate_version=version, merchant_id=product["merchant_id"], correlation_id="bench",
                              data={"delta": 1, "reason": "bench", "stock": product["stock"] + i + 1})
        await store(db, [event])
        began = time.monotonic()
        await produce(producer, settings, [event])
        while await db["catalog_products"].find_one({"_id": product["_id"], "version": version}) is None:
            await asyncio.sleep(0.005)
        samples.append(time.monotonic() - began)
        await asyncio.sleep(max(0.0, 1 / rate - samples[-1]))
    return samples


async def main(events_n: int, rate: float, samples_n: int) -> None:
    run = f"bench_{uuid.uuid4().hex[:8]}"
    settings = ProjectorSettings(kafka_topic_prefix=f"{run}.", mongodb_database=run, group_id=run)
    client = mongo.open_mongo(settings)
    db = mongo.database(client, settings)
    await ensure_topics(settings)
    events = generate(events_n, seed=1)
    await store(db, events)
    producer = reliable_producer(settings, linger_ms=20)
    await producer.start()
    await produce(producer, settings, events)

    raw = await baseline(settings, db, len(events))
    env = {**os.environ, "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix, "MONGODB_DATABASE": run,
           "PROJECTOR_GROUP_ID": run}
    service = stream_service("projector", "projectors", env, Path(tempfile.mkdtemp())).start()
    while "started successfully" not in service.log_path.read_text(errors="replace"):
        await asyncio.sleep(0.05)  # measure projecting, not process start-up and index creation
    began = time.monotonic()
    await caught_up(settings)
    projector = len(events) / (time.monotonic() - began)

    rebuilt, rebuild_seconds = 0, 0.0
    for stream in STREAMS:
        result = await rebuild(db, stream.state, swap_in=False)
        rebuilt, rebuild_seconds = rebuilt + result.events, rebuild_seconds + result.seconds
        await drop_shadows(db, stream.state)
    samples = await latency(settings, db, producer, rate, samples_n)
    service.stop()
    await producer.stop()
    await delete_topics_with_prefix(settings)
    await client.drop_database(run)
    await client.close()

    p95 = statistics.quantiles(samples, n=20)[18] if len(samples) >= 20 else max(samples)
    print(f"events: {len(events)}")
    print(f"baseline consume+bulk-write: {raw:,.0f} events/s")
    print(f"projector (1 process): {projector:,.0f} events/s = {projector / raw:.2f} of baseline")
    print(f"rebuild from the event store: {rebuilt / rebuild_seconds:,.0f} events/s")
    print(f"produced-to-visible at {rate}/s: p50 {statistics.median(samples) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms ({len(samples)} samples)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=5.0, help="events/s for the latency step")
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.rate, args.samples))
