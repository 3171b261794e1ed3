"""Rebuilding a read model from the event store, while the live projector keeps serving.

1. Replay every event of the feeding stream from ``commits`` (through the same
   ``apply_batch`` the live projector uses) into *shadow* collections
   (``<name>__rebuild``); products also replay merchants first, for their names.
2. Build the shadow's indexes.
3. Swap: ``renameCollection(shadow -> live, dropTarget=true)`` — atomic on MongoDB.
   FerretDB v1 does not implement ``dropTarget`` (detected from its NotImplemented
   answer): there the live collection is renamed aside first, then the shadow renamed
   in, then the old one dropped — queries in that instant may find the collection
   missing (an empty answer, never a wrong one).
4. Catch up: events committed since the replay began are applied again to the swapped-in
   collection (idempotent), so nothing the live projector applied to the old collection
   during the rebuild is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from shared.event_store_reader import count_commits_of_type, stream_events
from shared.events import utc_now
from shared.read_models import MERCHANT_NAMES

from projectors.adapters.bulk import REPLACE, Writer, detect_writer
from projectors.adapters.indexes import ensure_read_model_indexes
from projectors.application.engine import Names, Stream, apply_batch
from projectors.entrypoints.streams import MERCHANTS_STREAM, PRODUCTS_STREAM, stream_of

log = logging.getLogger(__name__)

SHADOW_SUFFIX = "__rebuild"
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

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def shadow_names(stream: Stream, writer: Writer = REPLACE) -> Names:
    names = Names({c: c + SHADOW_SUFFIX for c in stream.read_models}, writer=writer)
    if stream is PRODUCTS_STREAM:
        names[MERCHANT_NAMES] = MERCHANT_NAMES + SHADOW_SUFFIX
    return names


async def replay(
    db: AsyncDatabase, stream: Stream, names: Names, *, since=None, progress: Progress | None = None, chunk: int = 2000
) -> int:
    events = 0
    async for commits, batch in stream_events(db, stream.aggregate_type, since=since, chunk=chunk):
        await apply_batch(db, stream, batch, names)
        events += len(batch)
        if progress:
            progress(len(batch), commits)
    return events


async def swap(db: AsyncDatabase, shadow: str, live: str) -> bool:
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


async def total_commits(db: AsyncDatabase, name: str) -> int:
    stream = stream_of(name)
    extra = await count_commits_of_type(db, "merchant") if stream is PRODUCTS_STREAM else 0
    return extra + await count_commits_of_type(db, stream.aggregate_type)


async def rebuild(
    db: AsyncDatabase, name: str, *, progress: Progress | None = None, swap_in: bool = True
) -> RebuildResult:
    """Rebuild read model ``name``. With ``swap_in=False`` the shadow collections stay
    (named by ``shadow_names``) for the caller to inspect and drop."""
    stream = stream_of(name)
    writer = await detect_writer(db)
    names = shadow_names(stream, writer)
    for physical in names.values():
        await db.drop_collection(physical)
    began, started_at = time.monotonic(), utc_now()
    events = 0
    if stream is PRODUCTS_STREAM:
        events += await replay(db, MERCHANTS_STREAM, names, progress=progress)
    events += await replay(db, stream, names, progress=progress)
    await ensure_read_model_indexes(db, {c: names[c] for c in stream.read_models})
    atomic = None
    if swap_in:
        atomic = await swap(db, names[name], name)
        for logical, physical in names.items():
            if logical != name:
                await db.drop_collection(physical)
        live = Names(writer=writer)
        if stream is PRODUCTS_STREAM:
            await replay(db, MERCHANTS_STREAM, live, since=started_at - CATCH_UP_MARGIN)
        await replay(db, stream, live, since=started_at - CATCH_UP_MARGIN)
    seconds = time.monotonic() - began
    log.info(
        "rebuilt %s from %d events in %.1f s (%s swap)",
        name,
        events,
        seconds,
        "atomic" if atomic else "two-step" if atomic is False else "no",
    )
    return RebuildResult(name, events, seconds, swap_in, atomic)


async def drop_shadows(db: AsyncDatabase, name: str) -> None:
    for physical in shadow_names(stream_of(name)).values():
        await db.drop_collection(physical)
