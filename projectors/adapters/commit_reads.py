"""How a rebuild reads one aggregate type's commits: keyset pages, or one sorted cursor.

Reading ``commits`` is most of a rebuild. Where the server sorts and limits in its
backend (our FerretDB build: its ``explain`` of a page reports ``sortPushdown`` and
``limitPushdown``, and PostgreSQL reads the page as a range of the ``by_type_in_order``
index), ``read_commits`` reads the type as keyset pages (``event_store_reader.commit_pages``:
one ``find`` per page, after the page before's last ``_id``) fetched by a task of its own
up to ``AHEAD`` pages ahead of the fold. Elsewhere — MongoDB, which serves one sorted
cursor from its index, or a FerretDB that sorts in Go, where every page would decode every
match — and with ``readers=0``, one sorted cursor, as ``stream_events`` reads: on FerretDB
that cursor is answered by reading, decoding and sorting every commit of the type in Go
before its first row (7.7 GB of FerretDB's memory for issue 15's 859,795 order commits,
and the fold waits meanwhile).

``readers`` above 1 reads the type as that many partitions by ``aggregate_id`` range (cut
evenly between the type's lowest and highest id, ``split_points``), each as keyset pages
by a task of its own, merged back into ``_id`` order (``event_store_reader.merge_by_id``).
Not the default: on issue 15's full seed PostgreSQL planned each partition's page as a
(parallel) sequential scan of the whole commits table, 3-4 s a page (2026-12-06 22:15 UTC).

**Guarantees.** Every commit of the type exactly once, in ``_id`` order, every way: the
partitions are disjoint and cover every string (the first has no lower bound, the last no
upper one; an ``aggregate_id`` is a string, the envelope's type — a type whose lowest or
highest id is not one is read as one partition), and a commit's ``aggregate_id`` never
changes. So the chunks, batches and positions a rebuild makes of them are the one
cursor's. Memory: at most ``readers × (AHEAD + 1)`` pages held.

**Failure.** A reader's failed read is raised to the consumer when it reaches that
reader's next page (not retried: the rebuild fails, and starts again from empty
shadows). Leaving ``read_commits`` — done, failed or cancelled — cancels every reader task
and waits for them: none outlives the rebuild.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pymongo.errors import PyMongoError

from shared.event_store_reader import COMMITS, commit_pages, merge_by_id
from shared.mongo import Database, Document

# Partitions read at once: one. Two on issue 15's full seed (1.34 M commits, 2026-12-06
# 22:07-22:15 UTC) had each page planned as a (parallel) sequential scan of the whole
# commits table, 3-4 s a page; one partition's page is a range of the (aggregate_type, _id)
# index. 0: one sorted cursor (the way before keyset pages, to compare).
READERS = 1
PAGE = 1_000  # commits per page (one round trip each)
# One cursor: commits per round trip (10,000 was no faster on FerretDB: it sorts every
# commit of the type before its first answer).
CURSOR_BATCH = 2_000
AHEAD = 2  # pages a partition's reader fetches ahead of the merge
HEX = "0123456789abcdef"


def split_points(lowest: str, highest: str, readers: int) -> list[str]:
    """Up to ``readers - 1`` increasing strings splitting ``[lowest, highest]``: the common
    prefix, then the first character where they differ, its range divided evenly — by rank
    among hexadecimal digits where both are one (UUIDs, with or without a prefix, fall
    evenly into the parts), by code point otherwise."""
    common = len(os.path.commonprefix([lowest, highest]))
    if common == len(highest):  # equal: nothing to split
        return []
    prefix, low, high = highest[:common], lowest[common : common + 1], highest[common]
    alphabet = HEX if low and low in HEX and high in HEX else None
    first = alphabet.index(low) if alphabet else ord(low) if low else 0
    last = alphabet.index(high) if alphabet else ord(high)
    steps = {first + (last - first + 1) * i // readers for i in range(1, readers)}
    points = {prefix + (alphabet[step] if alphabet else chr(step)) for step in steps}
    return sorted(p for p in points if lowest < p <= highest)


def partition_queries(aggregate_type: str, points: list[str]) -> list[Document]:
    """One filter per part of the ``aggregate_id`` space cut at ``points``: disjoint and
    covering every string (the first part has no lower bound, the last no upper one)."""
    bounds: list[str | None] = [None, *points, None]
    queries = []
    for low, high in zip(bounds, bounds[1:], strict=False):
        ids = ({"$gte": low} if low else {}) | ({"$lt": high} if high else {})
        queries.append({"aggregate_type": aggregate_type} | ({"aggregate_id": ids} if ids else {}))
    return queries


async def _id_range(db: Database, aggregate_type: str) -> tuple[str, str] | None:
    """The lowest and highest ``aggregate_id`` of the type (two one-row sorted reads)."""
    ends = []
    for direction in (1, -1):
        found = (
            await db[COMMITS]
            .find({"aggregate_type": aggregate_type}, {"aggregate_id": 1})
            .sort("aggregate_id", direction)
            .limit(1)
            .to_list(None)
        )
        if not found or not isinstance(found[0].get("aggregate_id"), str):
            return None
        ends.append(found[0]["aggregate_id"])
    return ends[0], ends[1]


async def pages_pushed_down(db: Database, query: Document) -> bool:
    """Whether the server answers a page of ``query`` (sorted by ``_id``, limited) by sorting
    and limiting in its backend: FerretDB's ``explain`` says so; MongoDB's has no such keys
    (one cursor serves it well)."""
    command = {"explain": {"find": COMMITS, "filter": query, "sort": {"_id": 1}, "limit": PAGE}}
    try:
        plan = await db.command(command)
    except PyMongoError:
        return False
    return plan.get("sortPushdown") is True and plan.get("limitPushdown") is True


async def _pump(
    pages: AsyncIterator[list[Document]], queue: asyncio.Queue[list[Document] | BaseException | None]
) -> None:
    try:
        async for page in pages:
            await queue.put(page)
        await queue.put(None)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # handed to the consumer, raised there
        await queue.put(exc)


async def _drain(queue: asyncio.Queue[list[Document] | BaseException | None]) -> AsyncIterator[list[Document]]:
    while (item := await queue.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        yield item


@asynccontextmanager
async def read_commits(
    db: Database, aggregate_type: str, *, readers: int = READERS, page: int = PAGE, ahead: int = AHEAD
) -> AsyncIterator[AsyncIterator[Document]]:
    """The commits of ``aggregate_type`` in ``_id`` order (see the module doc), for use inside
    the ``async with``; ``readers=0``: one sorted cursor wherever it runs."""
    query: Document = {"aggregate_type": aggregate_type}
    if readers < 1 or not await pages_pushed_down(db, query):
        cursor = db[COMMITS].find(query, {"events": 1}).sort("_id", 1).batch_size(CURSOR_BATCH)
        try:
            yield cursor
        finally:
            await cursor.close()
        return
    ends = await _id_range(db, aggregate_type) if readers > 1 else None
    queries = partition_queries(aggregate_type, split_points(*ends, readers) if ends else [])
    queues: list[asyncio.Queue[list[Document] | BaseException | None]] = [asyncio.Queue(ahead) for _ in queries]
    tasks = [
        asyncio.create_task(_pump(commit_pages(db, query, page), queue))
        for query, queue in zip(queries, queues, strict=True)
    ]
    try:
        yield merge_by_id([_drain(queue) for queue in queues])
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
