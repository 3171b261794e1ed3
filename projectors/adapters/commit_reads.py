"""How a rebuild reads one aggregate type's commits: keyset pages, or one sorted cursor.

Reading ``commits`` is most of a rebuild. Where the server sorts and limits in its
backend (our FerretDB build: its ``explain`` of a page reports ``sortPushdown`` and
``limitPushdown``, and PostgreSQL reads the page as a range of the ``by_type_in_order``
index), ``read_commits`` reads the type as keyset pages (``event_store_reader.commit_pages``:
one ``find`` per page, after the page before's last ``_id``). Elsewhere — MongoDB, which
serves one sorted cursor from its index, or a FerretDB that sorts in Go, where every page
would decode every match — and with ``readers=0``, one sorted cursor, as ``stream_events``
reads: on FerretDB that cursor is answered by reading, decoding and sorting every commit
of the type in Go before its first row (7.7 GB of FerretDB's memory for issue 15's
859,795 order commits, and the fold waits meanwhile).

**Slices read at once.** One keyset reader has one page in flight, and its next request
waits for the event loop, which the fold holds for a batch at a time: the server idled
between pages and the fold waited for them (the rebuild's main thread was idle a fifth of
its fold, py-spy, 2026-12-07 05:28 UTC). So the type's ``_id`` span (commit ids are
ObjectIds: increasing with time) is cut into consecutive ranges, ``IdSlices``, each sized
from the density of the slices read so far to hold about a page; up to ``WINDOW`` slices
are read ahead of the fold, ``readers`` pages requested at once, and the slices are handed
on in order. The ranges are ranges of the same index: each page stays an index range,
whatever the split (the partitions by ``aggregate_id`` this replaced were planned as
sequential scans of the whole table, 3-4 s a page, 2026-12-06 22:15 UTC).

**Guarantees.** Every commit of the type exactly once, in ``_id`` order, every way: the
slices are disjoint and contiguous, the first has no lower bound and the last no upper
one, and each is read in ``_id`` order; a type whose ``_id`` are not ObjectIds is read as
one slice. So the chunks, batches and positions a rebuild makes of them are the one
cursor's. Memory: at most ``WINDOW`` slices of up to ``ahead`` pages each held.

**Failure.** A failed read is raised to the consumer when it reaches that slice (not
retried: the rebuild fails, and starts again from empty shadows). Leaving
``read_commits`` — done, failed or cancelled — cancels every reader task and waits for
them: none outlives the rebuild.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bson import ObjectId
from pymongo.errors import PyMongoError

from shared.event_store_reader import COMMITS, commit_pages
from shared.mongo import Database, Document

# Pages requested at once. One: the server idles while the fold holds the event loop.
READERS = 2
PAGE = 1_000  # commits per page (one round trip each)
# One cursor: commits per round trip (10,000 was no faster on FerretDB: it sorts every
# commit of the type before its first answer).
CURSOR_BATCH = 2_000
AHEAD = 2  # pages one slice's reader fetches ahead of the fold
WINDOW = 6  # slices being read at once, the fold's one included
FIRST_SLICES = 64  # the first slices' width: this fraction of the type's _id span
GROWTH = 4  # a slice's width changes at most this factor from the one read before


@dataclass(frozen=True)
class IdSlice:
    """``start <= _id < stop`` (None: no bound); ``width``: ``stop - start`` as integers."""

    start: ObjectId | None
    stop: ObjectId | None
    width: int


class IdSlices:
    """Consecutive ``_id`` ranges covering every ObjectId (see the module doc): the first
    unbounded below, the last (the one reaching ``highest``) unbounded above; each sized
    from the density of the last one read (``read``) to hold about ``page`` commits."""

    def __init__(self, lowest: ObjectId, highest: ObjectId, page: int) -> None:
        self.next_start: int | None = _number(lowest)
        self.highest = _number(highest)
        self.page = page
        self.width = max(1, (self.highest - self.next_start + 1) // FIRST_SLICES)
        self.first = True

    def next(self) -> IdSlice | None:
        """The next slice, None past the last."""
        if self.next_start is None:
            return None
        start, stop = self.next_start, self.next_start + self.width
        self.next_start = stop if stop <= self.highest else None
        lower = None if self.first else ObjectId(_bytes(start))
        upper = None if self.next_start is None else ObjectId(_bytes(stop))
        self.first = False
        return IdSlice(lower, upper, self.width)

    def read(self, part: IdSlice, commits: int) -> None:
        """``part`` held ``commits``: size the next slices by that density."""
        wanted = part.width * self.page // max(commits, 1)
        self.width = max(1, min(max(wanted, part.width // GROWTH), part.width * GROWTH))


class WholeType:
    """One slice, every commit of the type: where ``_id`` cannot be cut (one reader, or
    ids that are not ObjectIds)."""

    def __init__(self) -> None:
        self.given = False

    def next(self) -> IdSlice | None:
        if self.given:
            return None
        self.given = True
        return IdSlice(None, None, 0)

    def read(self, part: IdSlice, commits: int) -> None:
        pass


def _number(oid: ObjectId) -> int:
    return int.from_bytes(oid.binary, "big")


def _bytes(number: int) -> bytes:
    return number.to_bytes(12, "big")


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


async def _id_bounds(db: Database, query: Document) -> tuple[ObjectId, ObjectId] | None:
    """The lowest and highest ``_id`` matching ``query`` (two one-row sorted reads), if ObjectIds."""
    ends = []
    for direction in (1, -1):
        found = await db[COMMITS].find(query, {"_id": 1}).sort("_id", direction).limit(1).to_list(None)
        if not found or not isinstance(found[0]["_id"], ObjectId):
            return None
        ends.append(found[0]["_id"])
    return ends[0], ends[1]


async def _pump(
    pages: AsyncIterator[list[Document]],
    queue: asyncio.Queue[list[Document] | BaseException | None],
    gate: asyncio.Semaphore,
) -> int:
    """Move ``pages`` to ``queue`` (then None), each fetched holding ``gate``; a failure is
    handed to the consumer, raised there. Returns the documents moved."""
    moved = 0
    try:
        while True:
            async with gate:
                page = await anext(pages, None)
            if page is None:
                break
            moved += len(page)
            await queue.put(page)
        await queue.put(None)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        await queue.put(exc)
    return moved


async def _read_slices(
    db: Database, query: Document, slices: IdSlices | WholeType, page: int, readers: int, ahead: int
) -> AsyncGenerator[Document]:
    """The commits of ``slices`` in order, up to ``WINDOW`` slices read at once, ``readers``
    pages requested at once."""
    gate = asyncio.Semaphore(readers)
    window: deque[tuple[IdSlice, asyncio.Queue[list[Document] | BaseException | None], asyncio.Task[int]]]
    window = deque()

    def start_next() -> None:
        part = slices.next()
        if part is not None:
            queue: asyncio.Queue[list[Document] | BaseException | None] = asyncio.Queue(ahead)
            pages = commit_pages(db, query, page, part.start, part.stop)
            window.append((part, queue, asyncio.create_task(_pump(pages, queue, gate))))

    try:
        for _ in range(WINDOW):
            start_next()
        while window:
            part, queue, task = window[0]
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                for doc in item:
                    yield doc
            window.popleft()
            slices.read(part, await task)
            start_next()
    finally:
        for _, _, task in window:
            task.cancel()
        await asyncio.gather(*(task for _, _, task in window), return_exceptions=True)


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
    bounds = await _id_bounds(db, query) if readers > 1 else None
    slices = IdSlices(*bounds, page) if bounds else WholeType()
    commits = _read_slices(db, query, slices, page, readers, ahead)
    try:
        yield commits
    finally:
        await commits.aclose()
