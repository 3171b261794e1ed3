"""A rebuild's paged and partitioned reads of the commits (``projectors.adapters.commit_reads``).

On the real servers, from a generated history of every event type: read as keyset pages
(one reader, the default) or as several partitions of them merged by ``_id``, each
aggregate type's commits are exactly those of one sorted cursor (``readers=0``), in the
same order (small pages, so the partitions interleave page after page); on our FerretDB
the paged path is the one taken. A read that fails
mid-stream in one partition, while the other is ahead, fails the rebuild with that error,
leaves no reader task running, and the next rebuild starts from empty shadows and builds
what a rebuild read through one cursor builds, field for field.
"""

from __future__ import annotations

import asyncio

import pytest

from merchant_testkit.event_stream import generate, store
from merchant_testkit.plugin import own_namespace_fixtures
from projectors.adapters import commit_reads
from projectors.adapters.commit_reads import pages_pushed_down, partition_queries, read_commits, split_points
from projectors.entrypoints.rebuild import drop_shadows, rebuild, shadow_names
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


async def test_the_partitions_read_every_commit_once_in_id_order(mongo_db, history):
    if "ferretdbVersion" in await mongo_db.client.admin.command("buildInfo"):
        # our build sorts and limits in PostgreSQL: the paged paths are the ones tested
        assert await pages_pushed_down(mongo_db, {"aggregate_type": "order"})
        assert await pages_pushed_down(mongo_db, partition_queries("order", ["o_4", "o_8"])[1])
    for query in partition_queries("order", ["o_4", "o_8"]):  # each holds commits: the merge interleaves
        assert await mongo_db.commits.count_documents(query) > 50, query
    for stream in STREAMS:
        one_cursor = await ids_read(mongo_db, stream.aggregate_type, readers=0)
        assert len(one_cursor) > 30, stream.name
        for readers in (1, 2, 3):
            partitioned = await ids_read(mongo_db, stream.aggregate_type, readers=readers, page=37, ahead=1)
            assert partitioned == one_cursor, (stream.name, readers)


def test_partitions_cover_every_string_id_once():
    assert [q.get("aggregate_id") for q in partition_queries("order", ["4", "8", "c"])] == [
        {"$lt": "4"},
        {"$gte": "4", "$lt": "8"},
        {"$gte": "8", "$lt": "c"},
        {"$gte": "c"},
    ]
    assert partition_queries("order", []) == [{"aggregate_type": "order"}]


def test_split_points_cut_between_the_lowest_and_highest_id():
    assert split_points("0a1b-uuid", "ffe2-uuid", 2) == ["8"]  # hexadecimal digits: by rank
    assert split_points("o_00aa", "o_ff01", 4) == ["o_4", "o_8", "o_c"]
    assert split_points("o_1", "o_1", 4) == []  # one aggregate
    assert split_points("a", "b", 4) == ["b"]  # fewer points than asked
    assert split_points("A", "z", 2) == ["^"]  # not hexadecimal: by code point
    for lowest, highest in (("0a", "ff"), ("p_00", "p_ff"), ("", "z"), ("a", "ab")):
        points = split_points(lowest, highest, 4)
        assert points == sorted(set(points)) and all(lowest < p <= highest for p in points)


async def shadows_of(db, stream) -> dict[str, list[dict]]:
    return {name: await db[physical].find().sort("_id").to_list() for name, physical in shadow_names(stream).items()}


async def test_a_read_failing_mid_stream_fails_the_rebuild_and_the_next_one_is_whole(mongo_db, history, monkeypatch):
    stream = ORDERS_STREAM
    await rebuild(mongo_db, stream.state, swap_in=False, readers=0)
    reference = await shadows_of(mongo_db, stream)
    await drop_shadows(mongo_db, stream.state)
    assert reference[stream.state]

    real_pages = commit_reads.commit_pages
    pages_read = {"second partition": 0}

    async def failing_pages(db, query, page):
        second = "$gte" in query.get("aggregate_id", {})
        async for docs in real_pages(db, query, page):
            if second:
                pages_read["second partition"] += 1
                if pages_read["second partition"] == 4:
                    raise ConnectionResetError("the store went away mid-read")
            yield docs

    monkeypatch.setattr(commit_reads, "commit_pages", failing_pages)
    before = asyncio.all_tasks()
    with pytest.raises(ConnectionResetError, match="mid-read"):
        await rebuild(mongo_db, stream.state, swap_in=False, readers=2, page=20)
    assert pages_read["second partition"] == 4  # it failed mid-stream, not before or after
    assert asyncio.all_tasks() <= before, "a reader task outlived the rebuild"
    monkeypatch.setattr(commit_reads, "commit_pages", real_pages)

    await rebuild(mongo_db, stream.state, swap_in=False, readers=2, page=20)
    try:
        assert await shadows_of(mongo_db, stream) == reference
    finally:
        await drop_shadows(mongo_db, stream.state)
