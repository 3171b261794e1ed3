"""Read-only access to the event store's ``commits`` collection, for the projectors.

``shared.events.store_reader`` streams every commit in append order (for analysts'
exports); this module adds what a projection needs on top: one aggregate's events in a
version range (gap filling) and one aggregate type's events (rebuilds). Envelopes are
returned as stored; ``decode_data`` upcasts their bodies.

The write side (``command_api.event_store``) owns the collection; projectors read it to
fill version gaps and to rebuild, and may not import ``command_api`` — so the few reads
they need live here. A commit document is
``{aggregate_id, version, last_version, aggregate_type, merchant_id, command_id,
committed_at, published, events: [envelope dicts]}``; ``version`` is the first aggregate
version of the commit and ``last_version`` the last.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from shared.events import EventEnvelope
from shared.events.store_reader import COMMITS  # noqa: F401 (one name for the collection)


async def events_between(db: AsyncDatabase, aggregate_id: str, after: int, before: int) -> list[EventEnvelope]:
    """The aggregate's events with ``after < aggregate_version < before``, in order."""
    cursor = db[COMMITS].find(
        {"aggregate_id": aggregate_id, "version": {"$lt": before}, "last_version": {"$gt": after}},
        {"events": 1}).sort("version", ASCENDING)
    events = [EventEnvelope.model_validate(e) async for doc in cursor for e in doc["events"]]
    return [e for e in events if after < e.aggregate_version < before]


async def count_commits(db: AsyncDatabase, aggregate_type: str) -> int:
    return await db[COMMITS].count_documents({"aggregate_type": aggregate_type})


async def stream_events(db: AsyncDatabase, aggregate_type: str, *, since: datetime | None = None,
                        chunk: int = 2000) -> AsyncIterator[tuple[int, list[EventEnvelope]]]:
    """Every event of one aggregate type, commit by commit in store order, in chunks.

    Yields ``(commits_read, events)``. Order across aggregates does not matter to a
    projection; within an aggregate a commit that sorts early is handled by the
    projector's gap filling, so no per-aggregate sort is needed here.
    """
    query: dict = {"aggregate_type": aggregate_type}
    if since is not None:
        query["committed_at"] = {"$gte": since}
    cursor = db[COMMITS].find(query, {"events": 1}).sort("_id", ASCENDING).batch_size(chunk)
    events: list[EventEnvelope] = []
    commits = 0
    async for doc in cursor:
        commits += 1
        events.extend(EventEnvelope.model_validate(e) for e in doc["events"])
        if len(events) >= chunk:
            yield commits, events
            commits, events = 0, []
    if events or commits:
        yield commits, events
