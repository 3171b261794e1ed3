"""Guarded replaces sent as concurrent bulk writes of disjoint ``_id``s
(``projectors.adapters.bulk.replace_in_place``, ``MongoReadModels.write_concurrency``) on
the real server: the newest version of each document wins whatever the chunks; a chunk that
fails fails the write only once every other chunk has finished, so the engine never starts
the state write while a view chunk is still in flight; the redelivered batch converges to
what one bulk write per collection gives."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from merchant_testkit.event_stream import generate
from merchant_testkit.plugin import own_namespace_fixtures
from projectors.adapters import bulk
from projectors.adapters.bulk import detect_writer, replace_in_place
from projectors.adapters.memory_store import MemoryEvents
from projectors.adapters.mongo_store import MongoReadModels
from projectors.application.engine import Batch, Delivery, apply_batch
from projectors.application.parking import PARKED
from projectors.entrypoints.streams import MERCHANTS_STREAM, PRODUCTS_STREAM, STREAMS

pytestmark = pytest.mark.integration
server_env, settings, mongo_db = own_namespace_fixtures()


class FailingChunk:
    """A collection whose bulk writes fail for the chunk holding ``poisoned`` (as a dropped
    connection would), the other chunks slowed so that they are still running then."""

    def __init__(self, inner: Any, poisoned: str) -> None:
        self.inner, self.poisoned, self.finished = inner, poisoned, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def bulk_write(self, requests: list, **kwargs: Any) -> Any:
        if any(r._filter["_id"] == self.poisoned for r in requests):
            raise AutoReconnect("connection lost (injected)")
        await asyncio.sleep(0.3)
        result = await self.inner.bulk_write(requests, **kwargs)
        self.finished += 1
        return result


def doc(i: int, version: int) -> dict:
    return {"_id": f"d{i:04d}", "version": version, "n": version}


async def test_concurrent_chunks_keep_the_newest_version_of_each_document(mongo_db, monkeypatch):
    monkeypatch.setattr(bulk, "MIN_CHUNK", 10)
    target = mongo_db[f"chunks_{random.randrange(10**9)}"]
    await target.insert_many([doc(i, 5) for i in range(300)])
    # Half older than stored (skipped), half newer (replaced), 100 new ones (inserted).
    docs = [doc(i, 3 if i % 2 else 7) for i in range(300)] + [doc(i, 1) for i in range(300, 400)]
    await replace_in_place(target, docs, {d["_id"]: 5 for d in docs if d["_id"] < "d0300"}, concurrency=4)
    stored = {d["_id"]: d["version"] async for d in target.find()}
    assert stored == {f"d{i:04d}": (5 if i % 2 else 7) if i < 300 else 1 for i in range(400)}
    await target.drop()


async def test_concurrent_swaps_of_the_detected_writer_keep_the_newest_version(mongo_db, monkeypatch):
    monkeypatch.setattr(bulk, "MIN_CHUNK", 10)
    target, writer = mongo_db[f"chunks_{random.randrange(10**9)}"], await detect_writer(mongo_db)
    await writer.write_newer(target, [doc(i, 5) for i in range(300)])
    docs = [doc(i, 3 if i % 2 else 7) for i in range(300)] + [doc(i, 1) for i in range(300, 400)]
    skipped = await writer.write_newer(target, docs, {d["_id"]: 5 for d in docs if d["_id"] < "d0300"}, 4)
    stored = {d["_id"]: d["version"] async for d in target.find()}
    assert stored == {f"d{i:04d}": (5 if i % 2 else 7) if i < 300 else 1 for i in range(400)}
    assert skipped == 150  # the older half
    await target.drop()


async def test_a_failed_chunk_fails_the_write_after_the_others_finished(mongo_db, monkeypatch):
    monkeypatch.setattr(bulk, "MIN_CHUNK", 10)
    target = mongo_db[f"chunks_{random.randrange(10**9)}"]
    docs = [doc(i, 2) for i in range(100)]
    failing = FailingChunk(target, "d0000")
    with pytest.raises(AutoReconnect):
        await replace_in_place(failing, docs, None, concurrency=4)  # type: ignore[arg-type]
    assert failing.finished == 3  # nothing of this write is in flight once it has raised
    assert await target.count_documents({}) == 75  # every chunk but the failed one
    await replace_in_place(target, docs, None, concurrency=4)  # the redelivery
    assert {d["_id"]: d["version"] async for d in target.find()} == {d["_id"]: 2 for d in docs}
    await target.drop()


def _store(db: Any, writer: Any, concurrency: int) -> MongoReadModels:
    prefix = f"k{concurrency}_{random.randrange(10**6)}_"
    logical = {m for s in STREAMS for m in s.read_models} | {PARKED}
    return MongoReadModels(db, writer, write_concurrency=concurrency).renamed({m: prefix + m for m in logical})


def _batches(events: list, stream: Any, size: int) -> list[Batch]:
    mine = [e for e in events if e.aggregate_type == stream.aggregate_type]
    return [
        Batch.of([Delivery(e, "p#0", start + i) for i, e in enumerate(mine[start : start + size])])
        for start in range(0, len(mine), size)
    ]


async def _contents(store: MongoReadModels, models: tuple[str, ...]) -> dict[str, dict]:
    return {
        m: {d["_id"]: {k: v for k, v in d.items() if k != "_rev"} async for d in store.collection(m).find()}
        for m in models
    }


async def test_a_view_chunk_failing_leaves_the_states_and_the_redelivery_converges(mongo_db, monkeypatch):
    monkeypatch.setattr(bulk, "MIN_CHUNK", 5)
    events = generate(2500, seed=7)
    history, writer = MemoryEvents(events), await detect_writer(mongo_db)
    one, concurrent = _store(mongo_db, writer, 1), _store(mongo_db, writer, 4)
    for store in (one, concurrent):
        for batch in _batches(events, MERCHANTS_STREAM, 500):
            await apply_batch(store, history, MERCHANTS_STREAM, batch)
    batches = _batches(events, PRODUCTS_STREAM, 300)
    assert len(batches) >= 3
    for batch in batches:
        await apply_batch(one, history, PRODUCTS_STREAM, batch)

    view, state = PRODUCTS_STREAM.views[0][0], PRODUCTS_STREAM.state
    for batch in batches[:-1]:
        await apply_batch(concurrent, history, PRODUCTS_STREAM, batch)
    before = await _contents(concurrent, (state,))
    victim = sorted({d.event.aggregate_id for d in batches[-1].deliveries} & set(before[state]))[0]
    failing = FailingChunk(concurrent.collection(view), victim)
    real_collection = concurrent.collection
    monkeypatch.setattr(
        MongoReadModels, "collection", lambda self, logical: failing if logical == view else real_collection(logical)
    )
    with pytest.raises(AutoReconnect):
        await apply_batch(concurrent, history, PRODUCTS_STREAM, batches[-1])
    monkeypatch.undo()
    assert failing.finished >= 1  # other view chunks were written ...
    assert await _contents(concurrent, (state,)) == before  # ... and no state moved

    await apply_batch(concurrent, history, PRODUCTS_STREAM, batches[-1])  # the redelivery
    assert await _contents(concurrent, PRODUCTS_STREAM.served) == await _contents(one, PRODUCTS_STREAM.served)
