"""The event store: one MongoDB document per commit.

A commit holds all the events one command produced, so appending them is a single
``insert_one`` — atomic on any MongoDB-compatible server, no multi-document transaction.

- ``(aggregate_id, version)`` is unique, where ``version`` is the *first* aggregate
  version in the commit. Every writer appends at ``loaded_version + 1``, so of two
  concurrent writers that loaded the same state exactly one insert succeeds; the other
  gets ``ConcurrencyConflict`` (optimistic concurrency).
- ``command_id`` is unique: a retried command (same merchant + Idempotency-Key) cannot
  commit twice, even if the first attempt crashed before answering.
- ``published`` is false until every event of the commit is on Kafka; the relay finds
  the rest by it.
"""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.events import EventEnvelope
from shared.mongo import ensure_indexes

from command_api.application.ports import Commit, ConcurrencyConflict, DuplicateCommand

COMMITS = "commits"
# A hint per aggregate: the last version known appended, read by ``_id`` (the only lookup
# FerretDB serves without scanning a collection). Never trusted for correctness: the
# unique (aggregate_id, version) index is. See ``head``.
HEADS = "aggregate_heads"

INDEXES = [
    IndexModel([("aggregate_id", ASCENDING), ("version", ASCENDING)], unique=True, name="aggregate_version_unique"),
    IndexModel([("command_id", ASCENDING)], unique=True, name="command_id_unique"),
    IndexModel(
        [("published", ASCENDING), ("aggregate_id", ASCENDING), ("version", ASCENDING)],
        name="unpublished_in_version_order",
    ),
    IndexModel([("aggregate_type", ASCENDING), ("_id", ASCENDING)], name="by_type_in_order"),
]


class EventStore:
    """The MongoDB event store (``command_api.application.ports.EventStorePort``)."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.commits, self.heads = db[COMMITS], db[HEADS]

    async def create_indexes(self) -> None:
        await ensure_indexes(self.commits, INDEXES)

    async def load(self, aggregate_id: str, after_version: int = 0) -> list[EventEnvelope]:
        """The events of one aggregate after ``after_version`` (all by default), in version order."""
        query = {"aggregate_id": aggregate_id}
        if after_version:
            query["version"] = {"$gt": after_version}
        cursor = self.commits.find(query, {"events": 1}).sort("version", ASCENDING)
        return [EventEnvelope.model_validate(e) async for doc in cursor for e in doc["events"]]

    async def append(self, commit: Commit) -> Commit:
        try:
            await self.commits.insert_one(commit.to_document())
        except DuplicateKeyError:
            # A retry of a committed command, or a race with another writer? Servers name
            # the violated index differently (FerretDB does not), so ask the store.
            earlier = await self.commits.find_one({"command_id": commit.command_id})
            if earlier is not None:
                raise DuplicateCommand(Commit.from_document(earlier)) from None
            raise ConcurrencyConflict(commit.aggregate_id) from None
        await self.advance_head(commit.aggregate_id, commit.last_version)
        return commit

    async def head(self, aggregate_id: str) -> int:
        """The last version known appended to the aggregate (0: none known).

        It lags only if a writer died between its commit and this update (the relay
        repairs it when it publishes that commit); a writer deciding on a lagging head
        appends at a taken version and gets ``ConcurrencyConflict`` — never a lost write.
        """
        doc = await self.heads.find_one({"_id": aggregate_id})
        return doc["version"] if doc else 0

    async def advance_head(self, aggregate_id: str, version: int) -> None:
        try:
            await self.heads.update_one({"_id": aggregate_id}, {"$max": {"version": version}}, upsert=True)
        except DuplicateKeyError:  # two first upserts raced; the document exists now
            await self.heads.update_one({"_id": aggregate_id}, {"$max": {"version": version}})

    async def find_by_command(self, command_id: str) -> Commit | None:
        doc = await self.commits.find_one({"command_id": command_id})
        return Commit.from_document(doc) if doc else None

    async def mark_published(self, commit_ids: list[ObjectId]) -> None:
        # One update per id: FerretDB pushes only ``_id`` equality down to its storage
        # (an ``$in`` would scan the whole collection); on MongoDB both use the index.
        for commit_id in commit_ids:
            await self.commits.update_one({"_id": commit_id}, {"$set": {"published": True}})

    async def unpublished(self, older_than: datetime, limit: int = 500) -> list[Commit]:
        """Commits not yet on Kafka, each aggregate's in version order."""
        cursor = (
            self.commits.find({"published": False, "committed_at": {"$lt": older_than}})
            .sort([("aggregate_id", ASCENDING), ("version", ASCENDING)])
            .limit(limit)
        )
        return [Commit.from_document(doc) async for doc in cursor]
