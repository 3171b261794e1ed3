"""The outbox on MongoDB: one tiny entry per commit not yet published, written *before* it.

Marking a commit published by updating it cost the store about 1 ms per document on
FerretDB (PostgreSQL), five times the commit's own insert (``loadtests/outbox_cost.py``).
So "not yet published" is a document of its own in ``outbox`` — ``{_id: commit id,
aggregate_id, version, at}`` — inserted, and deleted when published, never updated:

- **append** (``EventStore``'s group commit): one ``insert_many`` of the batch's entries
  (a chain's — hold and order — included; alongside it, the SKU claims the members
  require), then the commits' ``insert_many`` as before. An entry without its commit is
  harmless (nothing is published for it); a commit without its entry would never be
  published after a crash — hence entries first. A member the store refuses (version
  conflict, duplicate command, a refused SKU claim, a chain's record after a refused
  one) has its entry deleted at once (one ``delete_many``, only when a member was
  refused). If a commit write is not even *sent* within ``SEND_WITHIN`` of the entries
  being stored (the process was paused), it fails unwritten;
- **publish** (``mark_published``): one ``delete_many`` by ``_id``;
- **find** (``unpublished``): the entries in ``(aggregate_id, version)`` order through
  their index, then their commits by ``_id`` (one ``find``); the outbox holds only what
  is unpublished, so both reads stay small.

**Orphans, and the grace that bounds them.** A crash (or a failed write) between the two
inserts leaves an entry whose commit never comes. The relay's pass deletes such an entry
only once its ``at`` is older than ``orphan_grace`` (``COMMAND_API_OUTBOX_ORPHAN_GRACE_SECONDS``,
60 s). Deleting it while the commit can still land would lose that commit's publication,
so the grace must outlast every insert in flight, and two bounds make that so:

- the commit write is *started* at most ``SEND_WITHIN`` (5 s) after ``at`` (taken just
  before the entries are written; checked before sending: past it the batch fails
  unwritten, as a timeout — a 503 for its commands);
- once started, the command API's client gives the insert at most ``store_timeout_seconds``
  (5 s: pymongo's ``timeoutMS``, which also hands the server the rest as ``maxTimeMS``).

So a commit lands within about 10 s of its entry's ``at``, or never; 60 s leaves room for
clock skew between the writer and another process's relay. Not covered: a server that
executes a write it received a minute earlier (paused, then resumed) — the commit would
be stored and never published. Every orphan deleted is logged (a warning, ``orphan outbox
entries``). Until its grace ends an orphan is only read and skipped by relay passes. A
shorter grace is for tests only.

**Why not a design without the extra round trip.** A lone command pays one more insert
(the entry; ``loadtests/outbox_cost.py`` measures it). The alternative considered — no
entry, a log of *published* ids written by the publisher, and a relay watermark on
``committed_at`` — must let its watermark lag behind the clock by the same bound (a
commit stamped before the watermark can land after it: a late insert), so every relay
pass would read every commit of the last ~10 s or more — thousands under load — against
a log that must be collected too. The outbox keeps the relay's reads to what is actually
unpublished, at the price of that insert (group-committed like the commits).

**Old stores.** Commits written by the code before the outbox carry ``published: false``
until marked. ``adopt_legacy`` (run at start, with the indexes) gives each of them an
entry and then removes its flag — in pages, idempotent, so a crash midway is finished by
the next start. A commit that an old process marks published meanwhile keeps its entry
and is published once more: at-least-once, as always.

Only a store the old code wrote to can hold them, and every process of the old code
created the index its relay read them by (``LEGACY_INDEX``, on ``commits``) when it
started, before writing anything. So adoption looks for that index first (one
``listIndexes``): without it there is nothing to adopt and ``commits`` is not read. The
current code no longer creates it — maintaining it cost a commit insert up to a quarter
of its statement's PostgreSQL time on FerretDB (docs/benchmarks.md, "What a command
costs the store"). A store that has it keeps it (old processes of a rolling deploy read by
it); dropping it by hand is for when no old process runs and a start has adopted what
they left (docs/operations.md): after that, nothing would adopt a flagged commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from shared.events import utc_now
from shared.mongo import ensure_indexes

from command_api.application.ports import Commit, Document, Record

OUTBOX = "outbox"
SEND_WITHIN = 5.0  # seconds from the entries stored to the commit write sent, at most
ORPHAN_GRACE = 60.0  # seconds an entry without its commit is left alone (module docstring)
LEGACY_PAGE = 200  # its update (~1 ms a commit on FerretDB) well within a store timeout of 5 s

INDEXES = [IndexModel([("aggregate_id", ASCENDING), ("version", ASCENDING)], name="in_version_order")]
# What the code before the outbox created on ``commits`` at every start (module docstring).
LEGACY_INDEX = IndexModel(
    [("published", ASCENDING), ("aggregate_id", ASCENDING), ("version", ASCENDING)],
    name="unpublished_in_version_order",
)

log = logging.getLogger(__name__)


def entries_of(records: Sequence[Record]) -> list[Document]:
    """The entries for the records to append: commits not already published (the seeder's are)."""
    at = utc_now()
    return [
        {"_id": r.id, "aggregate_id": r.aggregate_id, "version": r.version, "at": at}
        for r in records
        if isinstance(r, Commit) and not r.published
    ]


class Outbox:
    def __init__(self, db: AsyncDatabase[Document], commits: AsyncCollection[Document], *, orphan_grace: float) -> None:
        self.entries = db[OUTBOX]
        self._commits = commits
        self._orphan_grace = timedelta(seconds=orphan_grace)
        self.orphans_deleted = 0

    async def create_indexes(self) -> None:
        await ensure_indexes(self.entries, INDEXES)

    async def write(self, entries: list[Document]) -> None:
        if len(entries) == 1:
            await self.entries.insert_one(entries[0])
        elif entries:
            await self.entries.insert_many(entries, ordered=False)

    async def drop(self, commit_ids: Sequence[ObjectId]) -> None:
        if len(commit_ids) == 1:
            await self.entries.delete_one({"_id": commit_ids[0]})
        elif commit_ids:
            await self.entries.delete_many({"_id": {"$in": list(commit_ids)}})

    async def unpublished(
        self,
        older_than: datetime,
        limit: int = 500,
        skip: Sequence[str] = (),
        leave: Callable[[ObjectId], bool] | None = None,
    ) -> list[Commit]:
        query: dict[str, Any] = {"at": {"$lt": older_than}}
        if skip:
            query["aggregate_id"] = {"$nin": list(skip)}
        cursor = self.entries.find(query).sort([("aggregate_id", ASCENDING), ("version", ASCENDING)]).limit(limit)
        entries = [e async for e in cursor if leave is None or not leave(e["_id"])]
        if not entries:
            return []
        found = {d["_id"]: d async for d in self._commits.find({"_id": {"$in": [e["_id"] for e in entries]}})}
        orphans = [e["_id"] for e in entries if e["_id"] not in found and e["at"] < utc_now() - self._orphan_grace]
        if orphans:
            await self.drop(orphans)
            self.orphans_deleted += len(orphans)
            log.warning("deleted %d orphan outbox entries (their commits were never stored): %s", len(orphans), orphans)
        return [Commit.from_document(found[e["_id"]]) for e in entries if e["_id"] in found]

    async def adopt_legacy(self) -> int:
        """Entries for the commits of the old format (``published: false``); how many. None
        to look for in a store the old code never started on (no ``LEGACY_INDEX``)."""
        if LEGACY_INDEX.document["name"] not in {i["name"] async for i in await self._commits.list_indexes()}:
            return 0
        adopted = 0
        while True:
            cursor = self._commits.find({"published": False}, {"aggregate_id": 1, "version": 1}).limit(LEGACY_PAGE)
            page = [d async for d in cursor]
            if not page:
                return adopted
            at = utc_now()
            try:
                await self.entries.insert_many(
                    [
                        {"_id": d["_id"], "aggregate_id": d["aggregate_id"], "version": d["version"], "at": at}
                        for d in page
                    ],
                    ordered=False,
                )
            except BulkWriteError as exc:  # entries of an earlier, interrupted adoption are there already
                if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                    raise
            await self._commits.update_many(
                {"_id": {"$in": [d["_id"] for d in page]}, "published": False}, {"$unset": {"published": ""}}
            )
            adopted += len(page)
            log.info("outbox: adopted %d commit(s) of the old format (published: false)", adopted)
