"""Reading events straight from the event store (the ``commits`` collection).

The write side owns the store (``command_api/event_store.py``); readers here depend only
on its document shape — one document per commit, ``events`` holding the envelopes in
version order, ``committed_at`` the append time — so analysts' tools need no write model.
Every envelope is upcast on the way out: readers see the current schema version.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from shared.events.envelope import EventEnvelope
from shared.events.upcasting import upcast

COMMITS = "commits"


def commit_filter(since: datetime | None, until: datetime | None) -> dict:
    """Commits appended in ``[since, until)``; either end may be open."""
    window = {}
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


async def count_commits(db: AsyncDatabase, since: datetime | None = None,
                        until: datetime | None = None) -> int | None:
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


async def read_events(db: AsyncDatabase, since: datetime | None = None, until: datetime | None = None,
                      report: ReadReport | None = None, batch_size: int = 1000,
                      ) -> AsyncIterator[list[EventEnvelope]]:
    """Yields, per commit in append order, its events at the current schema version."""
    report = report if report is not None else ReadReport()
    cursor = (db[COMMITS].find(commit_filter(since, until), {"events": 1})
              .sort("_id", ASCENDING).batch_size(batch_size))
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
