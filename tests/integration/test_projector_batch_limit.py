"""A real projector subscriber (real Kafka, the MongoDB-compatible server) sizes its batches
by time: over a backlog its batches grow from the first limit while they are fast, and shrink as
soon as they are slow (the store made slow by the test) — counted in records per batch as
the consumer delivered them, not on the policy object alone.

The backlog is a replay (the read models already hold later versions of its products, as
after a relay re-published a range): every batch runs the whole path — fetch, decode, the
states' and parkings' reads, deduplication, commit — but writes nothing, so what a batch
costs does not hang on how fast a shared server writes at the time (a products batch of
800 new events took 115 s on FerretDB while another session's full seed ran)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import pytest
from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage

from shared.kafka import reliable_producer
from shared.settings import ProjectorSettings

from merchant_testkit.event_stream import generate, produce
from merchant_testkit.plugin import own_namespace_fixtures
from projectors.adapters.indexes import ensure_read_model_indexes
from projectors.application.batch_limit import FLOOR, START
from projectors.entrypoints.app import Running, ensure_own_topics, subscribe
from projectors.entrypoints.batch_bound import BatchBound
from projectors.entrypoints.bootstrap import bootstrap, close
from projectors.entrypoints.streams import PRODUCTS_STREAM

pytestmark = pytest.mark.integration
# It reads its products topic from offset 0: a namespace of its own.
server_env, settings, mongo_db = own_namespace_fixtures()

TARGET = 5.0  # PROJECTOR_BATCH_SECONDS for the test (the default is 20: shorter keeps the test short)
SLOW = 2 * TARGET  # what the slowed store adds to each batch


class SlowableStore:
    """The real store; while ``extra`` is set, each batch's read of the stream's states
    (once per batch) first waits that long."""

    def __init__(self, store: Any, collection: str) -> None:
        self.store, self.collection, self.extra = store, collection, 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def find_ids(self, collection: str, ids: Collection[str]) -> dict:
        if collection == self.collection and self.extra:
            await asyncio.sleep(self.extra)
        return await self.store.find_ids(collection, ids)


async def until(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.1)


@dataclasses.dataclass
class Delivered:
    limit: int  # the limit in force when the consumer polled this batch
    records: int
    seconds: float
    slowed: bool


def recorder(bound: BatchBound, store: SlowableStore, seen: list[Delivered]) -> type[BaseMiddleware]:
    class Record(BaseMiddleware):
        async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]) -> Any:
            limit, slowed, began = bound.current, bool(store.extra), time.perf_counter()
            result = await call_next(msg)
            seen.append(Delivered(limit, len(msg.raw_message), time.perf_counter() - began, slowed))
            return result

    return Record


@pytest.mark.timeout(300)
async def test_batches_grow_over_a_backlog_and_shrink_at_once_when_slow(settings):
    projector = ProjectorSettings(
        **{**settings.model_dump(), "group_id": f"limit_{uuid.uuid4().hex[:8]}"},
        batch_seconds=TARGET,
        batch_size=20_000,
    )
    products = [e for e in generate(50_000, seed=15) if e.aggregate_type == "product"]
    producer = reliable_producer(settings, linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    await produce(producer, settings, products)  # the backlog, before the projector starts
    await producer.stop()

    side = await bootstrap(projector)
    await ensure_read_model_indexes(side.db)
    later = [{"_id": i, "version": 10**6} for i in sorted({e.aggregate_id for e in products})]
    await side.db[PRODUCTS_STREAM.state].insert_many(later)
    await ensure_own_topics(projector)
    store = SlowableStore(side.store, PRODUCTS_STREAM.state)
    broker = KafkaBroker(projector.kafka_bootstrap_servers)
    bound = subscribe(broker, projector, PRODUCTS_STREAM, Running(dataclasses.replace(side, store=store)))
    seen: list[Delivered] = []
    broker.insert_middleware(recorder(bound, store, seen))
    await broker.start()
    try:
        # Fast: from the start, the full batches double while they take under half the target.
        await until(lambda: max((d.records for d in seen), default=0) >= 2 * START, f"a batch of {2 * START}")
        store.extra = SLOW
        await until(lambda: sum(d.slowed for d in seen) >= 3, "three slow batches")
    finally:
        await broker.stop()
        await close(side)

    assert seen[0].limit == START
    assert all(d.records <= d.limit for d in seen), seen  # the consumer honoured every limit
    fast = [d for d in seen if not d.slowed]
    assert any(d.records == d.limit >= 2 * START for d in fast), fast  # full batches at a grown limit
    for before, after in zip(fast, fast[1:], strict=False):
        assert after.limit <= 2 * before.limit, fast  # one doubling at most
        assert after.limit >= before.limit or before.seconds > TARGET, fast  # only a slow batch shrinks it
    slow = [d for d in seen if d.slowed]
    assert all(d.seconds > SLOW for d in slow), slow
    # each slow batch cut the next one's limit at once, to its own rate over the target
    for before, after in zip(slow, slow[1:], strict=False):
        assert after.limit <= max(FLOOR, before.records * TARGET / SLOW), slow
    assert slow[-1].limit <= fast[-1].limit // 2, seen
