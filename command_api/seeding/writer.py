"""Writing a simulated history: the event store, Kafka, and the write side's side records.

The seeder gets the write side from ``bootstrap`` like every other tool, and writes
through its ports in bulk. Per window (``simulation.Window``): claim the new products'
SKUs (``SkuRegistryPort``: group-committed, as for the API), append the window's
commits with ``EventStorePort.append_batch`` (unordered ``insert_many`` in chunks: the
unique ``(aggregate_id, version)`` and ``command_id`` indexes hold as for every append),
produce every event in the order it happened with one pipelined producer (idempotent,
``acks=all``, key = aggregate id, so each aggregate's events stay ordered), then record the
window as published in the run record. A seeded order needs nothing more to be
cancelled later: its lines are in the order, its holds in the products.

**Publication and crashes.** Seeded commits are inserted already marked ``published``:
their outbox is the run record (``seed_runs``), not the relay, which would otherwise
republish a whole history. Events are still stored before they are produced, so a
projector that fills a version gap from the store finds them. If the seed dies between a
window's insert and its Kafka acks, the run record still says that window is
unpublished, and running the same command again resumes there: the simulation is
deterministic (ids, times, event ids), records already stored are skipped as duplicates,
and the window is produced again (at-least-once, as the relay would; projections dedupe
by version).

**Re-runs.** The run is ``(prefix, seed)``. A finished run is refused (``AlreadySeeded``);
an unfinished one with the same sizes resumes; other sizes are refused.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.events import utc_now
from shared.kafka import ensure_topics, reliable_producer
from shared.settings import CommandApiSettings, ServerSettings
from shared.topics import TOPIC_BY_AGGREGATE

from command_api.application.ports import Commit, Document, DuplicateCommand
from command_api.bootstrap import CommandSide, bootstrap
from command_api.seeding.plan import SeedParams, Window
from command_api.seeding.simulation import Simulation

RUNS = "seed_runs"
SAMPLE_PRODUCT_IDS = 50
IN_FLIGHT = 5000  # events produced before waiting for their acks


class AlreadySeeded(Exception):
    """This prefix and seed were seeded already (or are being seeded with other sizes)."""


async def append_new(side: CommandSide, commits: list[Commit], chunk: int = 1000) -> int:
    """Append, skipping records already stored (a resumed run). Returns how many were new."""
    inserted = 0
    for start in range(0, len(commits), chunk):
        for error in await side.store.append_batch(commits[start : start + chunk]):
            if error is None:
                inserted += 1
            elif not isinstance(error, DuplicateCommand):
                raise error
    return inserted


async def claim_run(db: AsyncDatabase[Document], params: SeedParams) -> Document:
    """The run record: a new one, or the unfinished one to resume (same sizes)."""
    sizes = {
        "merchants": params.merchants,
        "products": params.products,
        "orders": params.orders,
        "months": params.months,
        "batch": params.batch,
    }
    doc: Document = {
        "_id": params.run_id,
        "sizes": sizes,
        "until": params.until,
        "state": "running",
        "windows_published": -1,
        "keys_issued": False,
        "started_at": utc_now(),
    }
    try:
        await db[RUNS].insert_one(doc)
        return doc
    except DuplicateKeyError:
        earlier = await db[RUNS].find_one({"_id": params.run_id})
    assert earlier is not None, "run records are never deleted"
    if earlier["state"] == "done":
        raise AlreadySeeded(
            f"prefix {params.prefix!r} with seed {params.seed} was seeded already "
            f"(finished {earlier['finished_at']:%Y-%m-%d %H:%M} UTC); its merchants and keys are in "
            "that run's --out file. Seed again with another --prefix or --seed."
        )
    if earlier["sizes"] != sizes:
        raise AlreadySeeded(
            f"an unfinished run of prefix {params.prefix!r} and seed {params.seed} has other sizes "
            f"({earlier['sizes']}); resume it with those, or use another --prefix or --seed."
        )
    return earlier


async def _ahead(windows: Iterator[Window]) -> AsyncIterator[Window]:
    """The next window is simulated in a thread while the current one is written: the
    simulation is CPU work, the writes mostly wait for the store."""
    upcoming = asyncio.ensure_future(asyncio.to_thread(next, windows, None))
    while (window := await upcoming) is not None:
        upcoming = asyncio.ensure_future(asyncio.to_thread(next, windows, None))
        yield window


class Seeder:
    def __init__(
        self, db: AsyncDatabase[Document], settings: ServerSettings, params: SeedParams, out: Path | None
    ) -> None:
        self.db, self.settings, self.params, self.out = db, settings, params, out
        side_settings = settings if isinstance(settings, CommandApiSettings) else CommandApiSettings(**dict(settings))
        self.side = bootstrap(side_settings, db=db)
        self.keys: dict[str, dict[str, str]] = {}
        self.events_written = 0
        self.seconds = {"store": 0.0, "kafka": 0.0}  # where the time goes

    async def run(self, progress: Callable[[Window], None] = lambda w: None) -> dict[str, Any]:
        await self.side.prepare()  # the event store's unique indexes, api_keys
        await ensure_topics(self.settings)
        record = await claim_run(self.db, self.params)
        self.params = SeedParams(**{**asdict(self.params), "until": record["until"]})  # a resume replays the same story
        sim = Simulation(self.params)
        producer = reliable_producer(self.settings, linger_ms=20, max_batch_size=512 * 1024, request_timeout_ms=60_000)
        await producer.start()
        try:
            async for window in _ahead(sim.windows()):
                if window.index > record["windows_published"]:
                    await self._write(window, producer)
                    await self.db[RUNS].update_one(
                        {"_id": self.params.run_id}, {"$set": {"windows_published": window.index}}
                    )
                if window.index == 0:
                    await self._issue_keys(sim, record)
                progress(window)
        finally:
            await producer.stop()
        sim.close_catalogue()
        summary = self._summary(sim)
        await self.db[RUNS].update_one(
            {"_id": self.params.run_id},
            {"$set": {"state": "done", "finished_at": utc_now(), "totals": summary["totals"]}},
        )
        self._write_out(summary)
        return summary

    async def _write(self, window: Window, producer: AIOKafkaProducer) -> None:
        began = time.perf_counter()
        # Claimed before the products' commits, as for the API (a resumed run finds its own).
        await asyncio.gather(
            *(
                self.side.skus.claim(e.merchant_id, e.data["sku"], e.aggregate_id)
                for e in window.events
                if e.type == "ProductCreated"
            )
        )
        commits = [dataclasses.replace(c, published=True) for c in window.commits]  # the run record is the outbox
        await append_new(self.side, commits)
        bodies = {str(e.event_id): e.to_json() for e in window.events}
        stored = time.perf_counter()
        for start in range(0, len(window.events), IN_FLIGHT):  # bounded: a busy broker slows us, never times us out
            sends = [
                await producer.send(
                    self.settings.topic(TOPIC_BY_AGGREGATE[e.aggregate_type]),
                    bodies[str(e.event_id)],
                    key=e.kafka_key(),
                    headers=e.kafka_headers(),
                )
                for e in window.events[start : start + IN_FLIGHT]
            ]
            await asyncio.gather(*sends)
        self.seconds["store"] += stored - began
        self.seconds["kafka"] += time.perf_counter() - stored
        self.events_written += len(window.events)

    async def _issue_keys(self, sim: Simulation, record: Document) -> None:
        """Keys for the new merchants, once (after their MerchantCreated, as create_merchant
        does); written to --out at once, since plain keys are never stored."""
        if record["keys_issued"]:
            self.keys = self._keys_from_earlier_out()
            return
        for merchant in sim.merchants:
            self.keys[merchant.merchant_id] = await self.side.api_keys.issue(
                merchant.merchant_id, ["secret", "publishable"]
            )
        await self.db[RUNS].update_one({"_id": self.params.run_id}, {"$set": {"keys_issued": True}})
        self._write_out(self._summary(sim, final=False))

    def _keys_from_earlier_out(self) -> dict[str, dict[str, str]]:
        if self.out is None or not self.out.exists():
            return {}
        earlier = json.loads(self.out.read_text())
        return {
            m["merchant_id"]: {"secret": m["secret_key"], "publishable": m["publishable_key"]}
            for m in earlier.get("merchants", [])
            if m.get("secret_key")
        }

    def _summary(self, sim: Simulation, final: bool = True) -> dict[str, Any]:
        merchants: list[dict[str, Any]] = []
        for m in sim.merchants:
            keys = self.keys.get(m.merchant_id, {})
            entry: dict[str, Any] = {
                "merchant_id": m.merchant_id,
                "name": m.name,
                "currency": m.currency,
                "secret_key": keys.get("secret"),
                "publishable_key": keys.get("publishable"),
                "product_ids": m.product_ids[:SAMPLE_PRODUCT_IDS],
            }
            if final:
                entry.update(
                    products=m.products,
                    visible_products=m.visible_products,
                    stock_units=m.stock_units,
                    orders=m.orders,
                    orders_by_status=dict(sorted(m.orders_by_status.items())),
                    revenue=m.revenue,
                )
            merchants.append(entry)
        p = self.params
        return {
            "run": {
                "prefix": p.prefix,
                "seed": p.seed,
                "months": p.months,
                "until": p.until.isoformat(),
                "database": self.settings.mongodb_database,
                "topic_prefix": self.settings.kafka_topic_prefix,
                "complete": final,
            },
            "merchants": merchants,
            "totals": {
                "merchants": len(merchants),
                "products": sum(m.products for m in sim.merchants),
                "orders": sum(m.orders for m in sim.merchants),
                "skipped_orders": sim.skipped_orders,
                "events": sum(sim.heads.values()),
            }
            if final
            else {},
        }

    def _write_out(self, summary: dict[str, Any]) -> None:
        if self.out is not None:
            self.out.write_text(json.dumps(summary, indent=2) + "\n")
