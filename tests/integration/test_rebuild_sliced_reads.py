"""A rebuild's paged and sliced reads of the commits (``projectors.adapters.commit_reads``).

On the real servers, from a generated history of every event type: read as keyset pages
of one slice (one reader) or of consecutive ``_id`` slices read at once (several readers,
the default), each aggregate type's commits are exactly those of one sorted cursor
(``readers=0``), in the same order (small pages, so slices are a few pages and many); on
our FerretDB the paged path is the one taken, bounded pages included. A read that fails
mid-stream in one slice, while others are ahead, fails the rebuild with that error,
leaves no reader task running, and the next rebuild starts from empty shadows and builds
what a rebuild read through one cursor builds, field for field. ``merchant projections
rebuild`` counts what it will read within a time budget (on FerretDB a count reads every
commit) and goes without a total past it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from bson import ObjectId
from pymongo.errors import ExecutionTimeout

from merchant_testkit.event_stream import generate, store
from merchant_testkit.plugin import own_namespace_fixtures
from projectors.adapters import commit_reads
from projectors.adapters.commit_reads import IdSlices, pages_pushed_down, read_commits
from projectors.entrypoints import rebuild as rebuild_module
from projectors.entrypoints.rebuild import COUNT_BUDGET_MS, drop_shadows, rebuild, shadow_names, total_commits
from projectors.entrypoints.streams import ORDERS_STREAM, STREAMS

pytestmark = pytest.mark.integration
server_env, settings, mongo_db = own_namespace_fixtures()
EVENTS = 3_000


@pytest.fixture(scope="module")
async def history(mongo_db):
    await store(mongo_db, generate(EVENTS, seed=31))


async def ids_read(db, aggregate_type: str, **options) -> list:
    async with read_commits(db, aggregate_type, **options) as commits:
        return [doc["_id"] async for doc in commits]


async def test_the_slices_read_every_commit_once_in_id_order(mongo_db, history, monkeypatch):
    if "ferretdbVersion" in await mongo_db.client.admin.command("buildInfo"):
        # our build sorts and limits in PostgreSQL, a bounded slice's pages too: the paged paths are tested
        bounded = {"aggregate_type": "order", "_id": {"$gte": ObjectId(), "$lt": ObjectId()}}
        assert await pages_pushed_down(mongo_db, {"aggregate_type": "order"})
        assert await pages_pushed_down(mongo_db, bounded)
    real_pages = commit_reads.commit_pages
    slices_read = []

    def counted_pages(db, query, page, start=None, stop=None):
        slices_read.append((start, stop))
        return real_pages(db, query, page, start, stop)

    monkeypatch.setattr(commit_reads, "commit_pages", counted_pages)
    for stream in STREAMS:
        one_cursor = await ids_read(mongo_db, stream.aggregate_type, readers=0)
        assert len(one_cursor) > 30, stream.name
        for readers in (1, 2, 3):
            slices_read.clear()
            sliced = await ids_read(mongo_db, stream.aggregate_type, readers=readers, page=7, ahead=1)
            assert sliced == one_cursor, (stream.name, readers)
            assert len(slices_read) == 1 if readers == 1 else len(slices_read) > 3, (stream.name, readers)


def oid(number: int) -> ObjectId:
    return ObjectId(number.to_bytes(12, "big"))


def test_slices_are_contiguous_cover_every_id_and_follow_the_density_read():
    slices = IdSlices(oid(1_000), oid(1_000 + 64 * 500 - 1), page=100)  # first width: a 64th of the span
    first = slices.next()
    assert (first.start, first.stop, first.width) == (None, oid(1_500), 500)  # no lower bound
    slices.read(first, 50)  # half a page in 500 ids: the next ones twice as wide
    second = slices.next()
    assert (second.start, second.stop) == (oid(1_500), oid(2_500))
    slices.read(second, 10_000)  # dense: at most GROWTH times narrower
    assert slices.next().width == 1_000 // commit_reads.GROWTH
    slices.read(second, 0)  # empty: at most GROWTH times wider
    parts = [slices.next()]
    while parts[-1] is not None:
        parts.append(slices.next())
    last = parts[-2]
    assert last.stop is None and last.start <= oid(1_000 + 64 * 500 - 1)  # the last has no upper bound
    assert all(a.stop == b.start for a, b in zip(parts, parts[1:-1], strict=False))  # contiguous


def test_one_id_is_one_unbounded_slice():
    slices = IdSlices(oid(7), oid(7), page=100)
    only = slices.next()
    assert (only.start, only.stop) == (None, None) and slices.next() is None


async def shadows_of(db, stream) -> dict[str, list[dict]]:
    return {name: await db[physical].find().sort("_id").to_list() for name, physical in shadow_names(stream).items()}


async def test_a_read_failing_mid_stream_fails_the_rebuild_and_the_next_one_is_whole(mongo_db, history, monkeypatch):
    stream = ORDERS_STREAM
    await rebuild(mongo_db, stream.state, swap_in=False, readers=0)
    reference = await shadows_of(mongo_db, stream)
    await drop_shadows(mongo_db, stream.state)
    assert reference[stream.state]

    real_pages = commit_reads.commit_pages
    pages_read = {"later slices": 0}

    async def failing_pages(db, query, page, start=None, stop=None):
        async for docs in real_pages(db, query, page, start, stop):
            if start is not None:  # not the first slice
                pages_read["later slices"] += 1
                if pages_read["later slices"] == 4:
                    raise ConnectionResetError("the store went away mid-read")
            yield docs

    monkeypatch.setattr(commit_reads, "commit_pages", failing_pages)
    before = asyncio.all_tasks()
    with pytest.raises(ConnectionResetError, match="mid-read"):
        await rebuild(mongo_db, stream.state, swap_in=False, readers=2, page=20)
    assert pages_read["later slices"] >= 4  # it failed mid-stream (other slices may have read on meanwhile)
    assert asyncio.all_tasks() <= before, "a reader task outlived the rebuild"
    monkeypatch.setattr(commit_reads, "commit_pages", real_pages)

    await rebuild(mongo_db, stream.state, swap_in=False, readers=2, page=20)
    try:
        assert await shadows_of(mongo_db, stream) == reference
    finally:
        await drop_shadows(mongo_db, stream.state)


async def test_the_rebuild_command_counts_what_it_reads_and_says_how_fast(mongo_db, server_env, history):
    """``merchant projections rebuild orders --no-swap``: the bar's total counted within its
    budget on this small store, every order event replayed, the rate printed."""
    order_events = sum(
        [len(c["events"]) async for c in mongo_db.commits.find({"aggregate_type": "order"}, {"events": 1})]
    )
    assert await total_commits(mongo_db, ORDERS_STREAM.state) == await mongo_db.commits.count_documents(
        {"aggregate_type": "order"}
    )
    command = [sys.executable, "-m", "merchant_cli.main", "projections", "rebuild", ORDERS_STREAM.state, "--no-swap"]
    try:
        done = await asyncio.to_thread(
            subprocess.run, command, env={**os.environ, **server_env}, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"{ORDERS_STREAM.state}: {order_events} events in" in done.stdout, done.stdout[-2000:]
        assert "events/s), not swapped" in done.stdout
    finally:
        await drop_shadows(mongo_db, ORDERS_STREAM.state)


async def test_a_count_past_its_budget_leaves_the_total_unknown(mongo_db, history, monkeypatch):
    async def too_slow(db, aggregate_type, max_time_ms=None):
        assert max_time_ms == COUNT_BUDGET_MS  # the server is asked to stop there
        raise ExecutionTimeout("operation exceeded time limit")

    monkeypatch.setattr(rebuild_module, "count_commits_of_type", too_slow)
    assert await total_commits(mongo_db, ORDERS_STREAM.state) is None
