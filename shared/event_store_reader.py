"""Read-only access to the event store's ``commits`` collection, for every consumer.

The write side owns the store (``command_api/adapters/event_store.py``); readers here
depend only on its document shape, so no consumer needs the write model (projectors may
not import ``command_api``; analysts' tools need no write model). A commit document is
``{aggregate_id, version, last_version, aggregate_type, merchant_id, command_id,
committed_at, events: [envelope dicts]}``: one document per commit,
``events`` holding the envelopes in version order, ``version`` the first aggregate
version of the commit and ``last_version`` the last, ``committed_at`` the append time.

- For analysts (``merchant events export``): ``read_events`` streams every commit in
  append order within a time window, every envelope upcast on the way out (readers see
  the current schema version; an event this code cannot read is counted, not raised);
  ``count_commits`` sizes a progress bar where that is cheap.
- For projections: one aggregate's events in a version range (``events_between``, gap
  filling) and one aggregate type's events (``stream_events``, rebuilds), returned as
  stored; ``decode_data`` upcasts their bodies. A rebuild may read the commits otherwise
  (``projectors.adapters.commit_reads``: keyset pages, ``commit_pages``, of consecutive
  ``_id`` ranges read at once) and cut them into the same chunks (``chunk_events``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import ASCENDING

from shared.events.envelope import EventEnvelope
from shared.events.upcasting import upcast
from shared.mongo import Database, Document

COMMITS = "commits"


# -- for analysts: every commit in append order -------------------------------------
def commit_filter(since: datetime | None, until: datetime | None) -> Document:
    """Commits appended in ``[since, until)``; either end may be open."""
    window: dict[str, datetime] = {}
    if since is not None:
        window["$gte"] = since
    if until is not None:
        window["$lt"] = until
    return {"committed_at": window} if window else {}


@dataclass
class ReadReport:
    commits: int = 0
    events: int = 0
    # Events this code cannot read (a newer producer's version): kept out, counted here.
    unreadable: list[str] = field(default_factory=list)


async def count_commits(db: Database, since: datetime | None = None, until: datetime | None = None) -> int | None:
    """For progress bars: how many commits, or ``None`` where counting costs a full scan.

    MongoDB answers an unfiltered count from metadata; FerretDB v1 scans the collection
    for any count, which would double an export's time just to size a progress bar.
    """
    info = await db.client.admin.command("buildInfo")
    if "ferretdbVersion" in info:
        return None
    query = commit_filter(since, until)
    if not query:
        return await db[COMMITS].estimated_document_count()
    return await db[COMMITS].count_documents(query)


async def read_events(
    db: Database,
    since: datetime | None = None,
    until: datetime | None = None,
    report: ReadReport | None = None,
    batch_size: int = 1000,
) -> AsyncIterator[list[EventEnvelope]]:
    """Yields, per commit in append order, its events at the current schema version."""
    report = report if report is not None else ReadReport()
    cursor = db[COMMITS].find(commit_filter(since, until), {"events": 1}).sort("_id", ASCENDING).batch_size(batch_size)
    async for doc in cursor:
        report.commits += 1
        events = []
        for raw in doc["events"]:
            try:
                events.append(upcast(EventEnvelope.model_validate(raw)))
            except ValueError as exc:
                report.unreadable.append(f"commit {doc['_id']}: {exc}")
        report.events += len(events)
        yield events


# -- for projections: gap filling and rebuilds ---------------------------------------
async def events_between(db: Database, aggregate_id: str, after: int, before: int) -> list[EventEnvelope]:
    """The aggregate's events with ``after < aggregate_version < before``, in order."""
    cursor = (
        db[COMMITS]
        .find({"aggregate_id": aggregate_id, "version": {"$lt": before}, "last_version": {"$gt": after}}, {"events": 1})
        .sort("version", ASCENDING)
    )
    events = [EventEnvelope.model_validate(e) async for doc in cursor for e in doc["events"]]
    return [e for e in events if after < e.aggregate_version < before]


async def count_commits_of_type(db: Database, aggregate_type: str, max_time_ms: int | None = None) -> int:
    """Raises ``pymongo.errors.ExecutionTimeout`` past ``max_time_ms`` (None: no limit)."""
    query = {"aggregate_type": aggregate_type}
    if max_time_ms:
        return await db[COMMITS].count_documents(query, maxTimeMS=max_time_ms)
    return await db[COMMITS].count_documents(query)


async def stream_events(
    db: Database,
    aggregate_type: str,
    *,
    since: datetime | None = None,
    chunk: int = 2000,
    batch_size: int | None = None,
) -> AsyncIterator[tuple[int, list[EventEnvelope]]]:
    """Every event of one aggregate type, commit by commit in store order, in chunks of
    about ``chunk`` events (whole commits); ``batch_size``: commits per round trip
    (default ``chunk``).

    Yields ``(commits_read, events)``. Order across aggregates does not matter to a
    projection; within an aggregate a commit that sorts early is handled by the
    projector's gap filling, so no per-aggregate sort is needed here.
    """
    query: Document = {"aggregate_type": aggregate_type}
    if since is not None:
        query["committed_at"] = {"$gte": since}
    cursor = db[COMMITS].find(query, {"events": 1}).sort("_id", ASCENDING).batch_size(batch_size or chunk)
    async for item in chunk_events(cursor, chunk):
        yield item


async def chunk_events(docs: AsyncIterator[Document], chunk: int) -> AsyncIterator[tuple[int, list[EventEnvelope]]]:
    """``stream_events``' chunks (``(commits_read, events)``, whole commits, about ``chunk``
    events) of commit documents from any source, in the order given."""
    events: list[EventEnvelope] = []
    commits = 0
    async for doc in docs:
        commits += 1
        events.extend(EventEnvelope.model_validate(e) for e in doc["events"])
        if len(events) >= chunk:
            yield commits, events
            commits, events = 0, []
    if events or commits:
        yield commits, events


async def commit_pages(
    db: Database, query: Document, page: int, start: Any = None, stop: Any = None
) -> AsyncIterator[list[Document]]:
    """The commits matching ``query`` (which must not name ``_id``) with ``start <= _id <
    stop`` (either bound may be None: none) in ``_id`` order, as pages of up to ``page``:
    each page one ``find`` sorted by ``_id`` with a limit, after the last ``_id`` of the
    page before (keyset). Cheap only where the server sorts and limits with an index
    (MongoDB, FerretDB with sort and limit pushdown); elsewhere every page reads every match."""
    last = None
    while True:
        ids = {"$gt": last} if last is not None else {"$gte": start} if start is not None else {}
        ids |= {"$lt": stop} if stop is not None else {}
        wanted = db[COMMITS].find({**query, "_id": ids} if ids else query, {"events": 1})
        docs = await wanted.sort("_id", ASCENDING).limit(page).batch_size(page).to_list(None)  # one round trip
        if docs:
            yield docs
        if len(docs) < page:
            return
        last = docs[-1]["_id"]
