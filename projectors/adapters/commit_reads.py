"""How a rebuild reads one aggregate type's commits: one cursor, or partitions read concurrently.

Reading ``commits`` is most of a rebuild: FerretDB v1 turns every stored commit into BSON
in Go, on the one goroutine of the query, and sorts them there before its first answer
(docs/projections.md, "Rebuild"). Where the server sorts and limits in PostgreSQL (our
FerretDB build: its ``explain`` of a page reports ``sortPushdown`` and ``limitPushdown``),
``read_commits`` reads the type as ``READERS`` partitions by ``aggregate_id`` range, each
as keyset pages (``event_store_reader.commit_pages``: one ``find`` per page, sorted and
limited by PostgreSQL) fetched by a task of its own up to ``AHEAD`` pages ahead, and merges
them back into ``_id`` order (``event_store_reader.merge_by_id``): several FerretDB and
PostgreSQL sessions decode at once, on as many cores. Elsewhere — MongoDB, which serves one
sorted cursor from its index, or a FerretDB that sorts in Go, where every page would decode
every match — one sorted cursor, as ``stream_events`` reads.

**Guarantees.** Every commit of the type exactly once, in ``_id`` order, either way: the
partitions are disjoint and cover every string (the first has no lower bound, the last no
upper one; an ``aggregate_id`` is a string, the envelope's type), and a commit's
``aggregate_id`` never changes. So the chunks, batches and positions a rebuild makes of
them are the one cursor's. Memory: at most ``READERS × (AHEAD + 1)`` pages held.

**Failure.** A partition's failed read is raised to the consumer when it reaches that
partition's next page (not retried: the rebuild fails, and starts again from empty
shadows). Leaving ``read_commits`` — done, failed or cancelled — cancels every reader task
and waits for them: none outlives the rebuild.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pymongo.errors import PyMongoError

from shared.event_store_reader import COMMITS, commit_pages, merge_by_id
from shared.mongo import Database, Document

READERS = 2  # partitions read at once: the cores of the machine it was measured on
PAGE = 1_000  # commits per page (one round trip each)
# One cursor: commits per round trip (10,000 was no faster on FerretDB: it sorts every
# commit of the type before its first answer).
CURSOR_BATCH = 2_000
AHEAD = 2  # pages a partition's reader fetches ahead of the merge
HEX = "0123456789abcdef"


def partition_bounds(readers: int) -> list[str]:
    """``readers - 1`` split points of the id space, even for hexadecimal ids (UUIDs):
    2 → ``["8"]``, 4 → ``["4", "8", "c"]``."""
    if not 1 <= readers <= len(HEX):
        raise ValueError(f"readers must be 1..{len(HEX)}, not {readers}")
    return [HEX[i * len(HEX) // readers] for i in range(1, readers)]


def partition_queries(aggregate_type: str, readers: int) -> list[Document]:
    """One filter per partition: disjoint ``aggregate_id`` ranges covering every string."""
    bounds: list[str | None] = [None, *partition_bounds(readers), None]
    queries = []
    for low, high in zip(bounds, bounds[1:], strict=False):
        ids = ({"$gte": low} if low else {}) | ({"$lt": high} if high else {})
        queries.append({"aggregate_type": aggregate_type} | ({"aggregate_id": ids} if ids else {}))
    return queries


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
    the ``async with``."""
    queries = partition_queries(aggregate_type, readers)
    if readers == 1 or not await pages_pushed_down(db, queries[0]):
        cursor = (
            db[COMMITS].find({"aggregate_type": aggregate_type}, {"events": 1}).sort("_id", 1).batch_size(CURSOR_BATCH)
        )
        try:
            yield cursor
        finally:
            await cursor.close()
        return
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
