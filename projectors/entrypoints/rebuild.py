"""Rebuilding a read model from the event store.

1. Replay every event of the feeding stream from ``commits`` (through the same
   ``apply_batch`` the live projector uses) into *shadow* collections
   (``<name>__rebuild``); products also replay merchants first, for their names. The
   replay is one source, ``replay``, its positions the events' order in it: the derived
   views' counters come out as one counter per key. The replay is the shadow's only
   writer and nobody reads a shadow, so (``in_memory``, the default) it builds them in
   memory (``application.replay.ReplayStore``) and writes each document once, in large
   ``insert_many`` chunks, at the end or when its memory bound is reached; it reads the
   commits ahead of the fold, as keyset pages of ``_id`` slices read at once where the
   server sorts and limits in its backend (``adapters.commit_reads``: the same commits in
   the same order as one cursor).
   The batches it
   applies are the store-backed replay's (``chunk`` events, whole commits), so positions
   and every document, derived ``version``/``sources`` included, come out the same. The
   store-backed replay (``in_memory=False``: states, views and derived documents written
   per batch with ``write_newer``, ``application.known`` for what it wrote) is the
   reference it is tested against. A rebuild that fails starts again from empty shadows
   (they are dropped first).
2. Build the shadow's indexes.
3. Swap: ``renameCollection(shadow -> live, dropTarget=true)`` — atomic on MongoDB.
   FerretDB v1 does not implement ``dropTarget`` (detected from its NotImplemented
   answer): there the live collection is renamed aside first, then the shadow renamed
   in, then the old one dropped — queries in that instant may find the collection
   missing (an empty answer, never a wrong one).
4. Catch up: events committed since the replay began are applied again to the swapped-in
   collections (idempotent: their states drop what is there already), so nothing the live
   projector applied to the old collections during the rebuild is lost.

Swapping a stream with derived views (products, orders) needs that stream's projectors
stopped (``ensure_idle``: its consumer group has no member): the catch-up and a live
projector applying the same aggregate at the same moment would both add its change to
the derived counters, under different sources. Building the shadows only (``swap_in=False``)
is safe at any time. When the projectors start again they go on from their committed
offsets: what the rebuild already holds drops out by version, and the derived views'
counters per partition start from the rebuilt states.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiokafka.admin import AIOKafkaAdminClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ExecutionTimeout, OperationFailure

from shared.event_store_reader import chunk_events, count_commits_of_type, stream_events
from shared.events import EventEnvelope, utc_now
from shared.observability.runtime import gc_thresholds
from shared.read_models import CATALOG_PRODUCTS, MERCHANT_NAMES
from shared.settings import ProjectorSettings

from projectors.adapters.bulk import detect_writer
from projectors.adapters.commit_reads import PAGE, READERS, read_commits
from projectors.adapters.indexes import ensure_read_model_indexes
from projectors.adapters.mongo_store import MongoReadModels, StoredEvents
from projectors.application.engine import Batch, Delivery, Stream, apply_batch
from projectors.application.known import Known
from projectors.application.ports import Doc
from projectors.application.replay import BOUND, ReplayStore
from projectors.entrypoints.streams import MERCHANTS_STREAM, PRODUCTS_STREAM, stream_of

log = logging.getLogger(__name__)

SHADOW_SUFFIX = "__rebuild"
REPLAY = "replay"  # the source name of events replayed from the event store
NOT_IMPLEMENTED = 238
# Commits may be stamped slightly out of order by several command processes.
CATCH_UP_MARGIN = timedelta(seconds=5)

Progress = Callable[[int, int], None]  # (events done in this step, commits done)


@dataclass
class RebuildResult:
    name: str
    events: int
    seconds: float
    swapped: bool
    atomic_swap: bool | None
    flushes: int = 0  # the in-memory replay's writes to the shadows (1: once, at the end)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class ProjectorsRunning(RuntimeError):
    """A swap was asked while the stream's projectors consume (see the module doc)."""


def shadow_names(stream: Stream) -> dict[str, str]:
    names = {c: c + SHADOW_SUFFIX for c in stream.read_models}
    if stream is PRODUCTS_STREAM:
        names[MERCHANT_NAMES] = MERCHANT_NAMES + SHADOW_SUFFIX
    return names


async def replay(
    store: MongoReadModels,
    stream: Stream,
    *,
    since: datetime | None = None,
    progress: Progress | None = None,
    chunk: int = 2000,
    positions: Iterator[int] | None = None,
    known: Known | None = None,
) -> int:
    """Apply every stored event of ``stream`` (committed since ``since``) through ``store``,
    as the one source ``replay``; ``positions`` numbers them (continue it for a catch-up).
    ``known``: only where this replay is the sole writer (the shadow collections)."""
    positions = positions if positions is not None else itertools.count()
    history = StoredEvents(store.db)
    events = 0
    async for commits, batch in stream_events(store.db, stream.aggregate_type, since=since, chunk=chunk):
        deliveries = [Delivery(event, REPLAY, next(positions)) for event in batch]
        await apply_batch(store, history, stream, Batch.of(deliveries), known)
        events += len(batch)
        if progress:
            progress(len(batch), commits)
    return events


# The collector's thresholds while a rebuild runs. The fold allocates millions of short-lived
# objects while it holds every shadow document (hundreds of thousands of dicts), and at
# Python's (700, 10, 10) the collector's passes walked those again and again: the orders'
# fold on issue 15's full seed took 195 s at Python's and 132 s at these (2026-12-07 05:53
# and 06:47 UTC). The replay makes no reference cycles that need collecting sooner.
REBUILD_GC_THRESHOLDS = (50_000, 20, 100)

# The in-memory replay: batches read ahead while the current one folds (the server's work
# and ours overlap on two cores); how the commits are read: ``adapters.commit_reads``.
READ_AHEAD = 2


async def _read_ahead(
    batches: AsyncIterator[tuple[int, list[EventEnvelope]]], depth: int = READ_AHEAD
) -> AsyncGenerator[tuple[int, list[EventEnvelope]]]:
    """``batches`` read by a task of its own, up to ``depth`` ahead of the consumer."""
    queue: asyncio.Queue[tuple[int, list[EventEnvelope]] | BaseException | None] = asyncio.Queue(depth)

    async def pump() -> None:
        try:
            async for item in batches:
                await queue.put(item)
            await queue.put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            await queue.put(exc)

    task = asyncio.create_task(pump())
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def memory_store(shadow: MongoReadModels, stream: Stream, bound: int = BOUND) -> ReplayStore:
    """The shadow collections of ``stream`` held in memory (``application.replay``)."""
    held = shadow_names(stream)
    indexes: dict[str, tuple[tuple[str, ...], ...]] = {
        CATALOG_PRODUCTS: (("merchant_id", "category"),)
    }  # price look-ups
    for derivation in stream.derivations:
        indexes[derivation.counters] = (("key",),)
    return ReplayStore(shadow, held, indexes=indexes, spill=(stream.state,), bound=bound)


async def replay_in_memory(
    db: AsyncDatabase[Doc],
    store: ReplayStore,
    stream: Stream,
    *,
    progress: Progress | None = None,
    chunk: int = 2000,
    positions: Iterator[int],
    known: Known,
    readers: int = READERS,
    page: int = PAGE,
) -> int:
    """``replay`` into ``store`` (flushed by the caller), the same batches and positions;
    ``readers``: pages of the commits requested at once, 0: one sorted cursor
    (``adapters.commit_reads``)."""
    history = StoredEvents(db)
    events = 0
    async with (
        read_commits(db, stream.aggregate_type, readers=readers, page=page) as stored,
        aclosing(_read_ahead(chunk_events(stored, chunk))) as batches,
    ):
        async for commits, batch in batches:
            deliveries = [Delivery(event, REPLAY, next(positions)) for event in batch]
            await apply_batch(store, history, stream, Batch.of(deliveries), known)
            await store.settle()
            events += len(batch)
            if progress:
                progress(len(batch), commits)
    return events


async def swap(db: AsyncDatabase[Doc], shadow: str, live: str) -> bool:
    """Put ``shadow`` in place of ``live``; True if it was one atomic rename."""
    admin = db.client.admin
    source, target = f"{db.name}.{shadow}", f"{db.name}.{live}"
    try:
        await admin.command("renameCollection", source, to=target, dropTarget=True)
        return True
    except OperationFailure as exc:
        if exc.code != NOT_IMPLEMENTED:
            raise
    aside = f"{live}__old"
    await db.drop_collection(aside)
    if live in await db.list_collection_names():
        await admin.command("renameCollection", target, to=f"{db.name}.{aside}")
    await admin.command("renameCollection", source, to=target)
    await db.drop_collection(aside)
    return False


# Counting a type's commits (for a progress bar's total) is, on FerretDB, an aggregate that
# reads and decodes every one of them in Go: 215 s for issue 15's 483,781 order commits
# (2026-12-07 05:41 UTC), more than the orders' whole rebuild spends reading them as pages.
COUNT_BUDGET_MS = 2_000


async def total_commits(db: AsyncDatabase[Doc], name: str, budget_ms: int = COUNT_BUDGET_MS) -> int | None:
    """The commits a rebuild of ``name`` reads, or None if counting them takes over ``budget_ms``."""
    stream = stream_of(name)
    types = ["merchant", stream.aggregate_type] if stream is PRODUCTS_STREAM else [stream.aggregate_type]
    try:
        return sum([await count_commits_of_type(db, each, max_time_ms=budget_ms) for each in types])
    except ExecutionTimeout:
        return None


async def ensure_idle(settings: ProjectorSettings, name: str) -> None:
    """Refuse (``ProjectorsRunning``) while the consumer group feeding ``name`` has members."""
    stream = stream_of(name)
    if not stream.derivations:
        return
    group = f"{settings.group_id}.{stream.name}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    members = [
        member
        for response in described
        for found in response.to_object().get("groups", [])
        if found.get("group") == group
        for member in found.get("members", [])
    ]
    if members:
        raise ProjectorsRunning(
            f"{len(members)} projector process(es) consume {stream.name} (group {group}): stop them to swap "
            f"{name}, or build the shadow only (--no-swap)"
        )


async def rebuild(
    db: AsyncDatabase[Doc],
    name: str,
    *,
    progress: Progress | None = None,
    swap_in: bool = True,
    in_memory: bool = True,
    bound: int = BOUND,
    readers: int = READERS,
    page: int = PAGE,
) -> RebuildResult:
    """Rebuild read model ``name`` (and the others of its stream). With ``swap_in=False`` the
    shadow collections stay (named by ``shadow_names``) for the caller to inspect and drop;
    with it, the caller has made sure the stream's projectors are stopped (``ensure_idle``).
    ``in_memory=False``: the store-backed replay (the reference); ``bound``: documents the
    in-memory one holds before it flushes and spills (``application.replay``); ``readers``:
    pages of the commits it requests at once, ``page`` commits per round trip
    (``adapters.commit_reads``; ``readers=0``: one sorted cursor)."""
    with gc_thresholds(REBUILD_GC_THRESHOLDS):
        stream = stream_of(name)
        live = MongoReadModels(db, await detect_writer(db))
        names = shadow_names(stream)
        shadow = live.renamed(names)
        for physical in names.values():
            await db.drop_collection(physical)
        began, started_at = time.monotonic(), utc_now()
        positions = itertools.count()
        events = 0
        # The shadow has one writer, this replay: what it wrote need not be read back.
        known = Known()
        replayed = [MERCHANTS_STREAM, stream] if stream is PRODUCTS_STREAM else [stream]
        flushes = 0
        if in_memory:
            held = memory_store(shadow, stream, bound)
            for each in replayed:
                events += await replay_in_memory(
                    db, held, each, progress=progress, positions=positions, known=known, readers=readers, page=page
                )
            await held.flush()
            flushes = held.flushes
        else:
            for each in replayed:
                events += await replay(shadow, each, progress=progress, positions=positions, known=known)
        await ensure_read_model_indexes(db, {c: names[c] for c in stream.read_models})
        atomic = None
        if swap_in:
            for logical in stream.read_models:
                swapped = await swap(db, names[logical], logical)
                atomic = swapped if atomic is None else atomic and swapped
            for logical, physical in names.items():
                if logical not in stream.read_models:
                    await db.drop_collection(physical)
            since = started_at - CATCH_UP_MARGIN
            if stream is PRODUCTS_STREAM:
                await replay(live, MERCHANTS_STREAM, since=since, positions=positions)
            await replay(live, stream, since=since, positions=positions)
        seconds = time.monotonic() - began
        log.info(
            "rebuilt %s from %d events in %.1f s (%s swap)",
            name,
            events,
            seconds,
            "atomic" if atomic else "two-step" if atomic is False else "no",
        )
        return RebuildResult(name, events, seconds, swap_in, atomic, flushes)


async def drop_shadows(db: AsyncDatabase[Doc], name: str) -> None:
    for physical in shadow_names(stream_of(name)).values():
        await db.drop_collection(physical)
