"""Kafka simulated in memory for the projection engine's unit tests: partitioned logs,
consumers that commit after a batch, crashes between two writes, and the from-scratch
recompute of every derived read model to compare with.

Nothing here talks to a server: the engine runs on ``projectors.adapters.memory_store``.
"""

from __future__ import annotations

import asyncio
import random
import zlib
from dataclasses import dataclass, field

from shared.events import EventEnvelope

from projectors.adapters.memory_store import Crash, MemoryEvents, MemoryReadModels
from projectors.application.engine import Batch, Delivery, Outcome, Stream, apply_batch
from projectors.application.merchant_names import Rename, apply_renames
from projectors.domain import categories, merchant_stats
from projectors.entrypoints.streams import MERCHANTS_STREAM, ORDERS_STREAM, PRODUCTS_STREAM, STREAMS

PARTITIONS = 3


def partition_of(aggregate_id: str, partitions: int = PARTITIONS) -> int:
    return zlib.crc32(aggregate_id.encode()) % partitions


@dataclass
class Log:
    """One stream's topic: per partition, the events in offset order."""

    stream: Stream
    partitions: list[list[EventEnvelope]] = field(default_factory=list)

    @classmethod
    def of(cls, stream: Stream, partitions: int = PARTITIONS) -> Log:
        return cls(stream, [[] for _ in range(partitions)])

    def append(self, event: EventEnvelope) -> None:
        self.partitions[partition_of(event.aggregate_id, len(self.partitions))].append(event)

    def source(self, partition: int) -> str:
        return f"{self.stream.topic}#{partition}"


@dataclass
class Consumer:
    """A consumer group member over some partitions of a log, committing after each batch."""

    log: Log
    committed: dict[int, int]  # partition -> next offset to read (shared by the group)
    rng: random.Random

    def batch(self, partitions: list[int], max_records: int) -> tuple[Batch, dict[int, int]]:
        """Up to ``max_records`` records from the committed offsets on, a random share
        from each partition; and the offsets to commit once applied."""
        deliveries, ends, commits = [], {}, {}
        budget = max_records
        for p in self.rng.sample(partitions, len(partitions)):
            start = self.committed.get(p, 0)
            take = min(budget, self.rng.randint(0, max_records), len(self.log.partitions[p]) - start)
            if take <= 0:
                continue
            budget -= take
            for offset in range(start, start + take):
                deliveries.append(Delivery(self.log.partitions[p][offset], self.log.source(p), offset))
            ends[self.log.source(p)] = start + take - 1
            commits[p] = start + take
        return Batch.of(deliveries, ends), commits

    def caught_up(self) -> bool:
        return all(self.committed.get(p, 0) >= len(events) for p, events in enumerate(self.log.partitions))


def logs_of(
    events: list[EventEnvelope], partitions: int = PARTITIONS, rng: random.Random | None = None, disorder: float = 0.0
) -> dict[str, Log]:
    """The topics the events are published to. With ``disorder``, that share of the events
    is also published again later (a relay re-publishing), and as many are held back and
    published after a later version of their aggregate (a relay catching up after the live
    publisher): the projector fills those gaps from the event store."""
    logs = {s.aggregate_type: Log.of(s, partitions) for s in STREAMS}
    rng = rng or random.Random(0)
    held: list[EventEnvelope] = []
    for event in events:
        if disorder and event.aggregate_version > 1 and rng.random() < disorder:
            held.append(event)  # published a little later
            continue
        logs[event.aggregate_type].append(event)
        if disorder and rng.random() < disorder:
            logs[event.aggregate_type].append(event)  # a duplicate
        if held and rng.random() < 0.2:
            logs[held[0].aggregate_type].append(held.pop(0))
    for event in held:
        logs[event.aggregate_type].append(event)
    return logs


@dataclass
class Faults:
    crash_rate: float = 0.0  # a batch dies between two writes (nothing committed), as kill -9
    rebalance_rate: float = 0.0  # two members apply overlapping batches of one partition at once
    crashes: int = 0
    rebalances: int = 0


async def _apply(store: MemoryReadModels, history: MemoryEvents, consumer: Consumer, batch: Batch) -> bool:
    """One batch, and for merchants the renames it fans out (applied at once: in memory
    there is no other writer of a product to race)."""
    try:
        outcome = await apply_batch(store, history, consumer.log.stream, batch)
        if consumer.log.stream is MERCHANTS_STREAM:
            await apply_renames(store, [Rename.of(m) for m in outcome.touched], lambda _: True)
        return True
    except Crash:
        return False


async def run_to_end(
    store: MemoryReadModels,
    history: MemoryEvents,
    logs: dict[str, Log],
    rng: random.Random,
    *,
    max_records: int = 200,
    faults: Faults | None = None,
) -> Faults:
    """Consume every log to its end, stream by stream in random turns, batch by batch, with
    ``faults`` injected; offsets are committed only after a batch applied."""
    faults = faults or Faults()
    consumers = {kind: Consumer(log, {}, rng) for kind, log in logs.items()}
    while not all(c.caught_up() for c in consumers.values()):
        consumer = rng.choice([c for c in consumers.values() if not c.caught_up()])
        partitions = list(range(len(consumer.log.partitions)))
        if rng.random() < faults.rebalance_rate:
            # The old owner is still finishing its batch when the new one reads the same
            # partitions from the same committed offsets; their writes interleave.
            faults.rebalances += 1
            (first, commits1), (second, commits2) = (consumer.batch(partitions, max_records) for _ in range(2))
            store.pause = True
            done = await asyncio.gather(
                _apply(store, history, consumer, first), _apply(store, history, consumer, second)
            )
            store.pause = False
            for ok, commits in zip(done, (commits1, commits2), strict=True):
                if ok:
                    for p, offset in commits.items():
                        consumer.committed[p] = max(consumer.committed.get(p, 0), offset)
            continue
        batch, commits = consumer.batch(partitions, max_records)
        if rng.random() < faults.crash_rate:
            store.crash_after(rng.randint(0, 12))
        ok = await _apply(store, history, consumer, batch)
        store.crash_after(None)
        if ok:
            consumer.committed.update(commits)
        else:
            faults.crashes += 1
    return faults


async def clean_rebuild(events: list[EventEnvelope]) -> MemoryReadModels:
    """Every event in store order, one source, one writer: what a rebuild produces."""
    store, history = MemoryReadModels(), MemoryEvents(events)
    for stream in (MERCHANTS_STREAM, PRODUCTS_STREAM, ORDERS_STREAM):
        mine = [e for e in events if e.aggregate_type == stream.aggregate_type]
        for start in range(0, len(mine), 500):
            chunk = [Delivery(e, "replay", start + i) for i, e in enumerate(mine[start : start + 500])]
            await apply_batch(store, history, stream, Batch.of(chunk))
    return store


def strip(doc: dict) -> dict:
    """A derived document without what orders its recomputations."""
    return {k: v for k, v in doc.items() if k not in ("version", "sources")}


def from_scratch(store: MemoryReadModels) -> dict[str, dict[str, dict]]:
    """The derived read models recomputed from the stored states (the reference)."""
    products = list(store.collection("merchant_products").values())
    orders = list(store.collection("orders").values())
    days: dict[tuple[str, str], list[dict]] = {}
    for order in orders:
        days.setdefault((order["merchant_id"], order["placed_day"]), []).append(order)
    return {
        "categories": {k: strip(dict(v)) for k, v in categories.from_products(products).items()},
        "merchant_stats": {
            merchant_stats.bucket_id(m, d): strip(dict(merchant_stats.stats_for(m, d, found)))
            for (m, d), found in days.items()
        },
    }


def derived_as_stored(store: MemoryReadModels) -> dict[str, dict[str, dict]]:
    """The derived read models as the engine keeps them, in the reference's shape; a
    category whose products all left (kept with zero counts) is left out."""
    cats = {
        k: strip(d)
        for k, d in store.collection("categories").items()
        if d["total_count"] or d["product_count"] or d["min_price"] is not None
    }
    return {
        "categories": cats,
        "merchant_stats": {k: strip(d) for k, d in store.collection("merchant_stats").items()},
    }


def served(store: MemoryReadModels) -> dict[str, dict[str, dict]]:
    """Every served read model, derived documents without their version and sources."""
    out = {}
    for stream in STREAMS:
        for model in stream.served:
            docs = store.collection(model)
            derived = any(d.view == model for d in stream.derivations)
            out[model] = {k: strip(d) if derived else d for k, d in docs.items()}
    return out


def outcome_summary(outcome: Outcome) -> str:
    return f"applied {outcome.applied}, duplicates {outcome.duplicates}, dead {len(outcome.dead)}"
