"""The event store on MongoDB: one document per command id, appended by group commit.

A commit holds all the events one command produced, so storing it is one document
insert — atomic on any MongoDB-compatible server, no multi-document transaction.
Appends that arrive while one is in flight are written together in one unordered
``insert_many`` (``GroupCommit``): one round trip for the batch, each document accepted
or refused on its own — preceded by one insert of the batch's outbox entries, so an
append is two round trips however many commits it carries. A lone append (a batch of
one) is an ``insert_one`` each time: the same round trip without pymongo's bulk set-up
(``insert_each``).

What shortens a lone command's path (two sequential round trips for each command kind):

- **a required write** (``append(record, requires=...)``: a new product's SKU claim) is
  started at once and awaited *alongside* the batch's entries insert; a member whose
  required write failed has its entry deleted at once (one ``delete_many``) and is not
  inserted — its submit raises that failure. The batch waits for its members' required
  writes, which began before the entries did, at most ``REQUIRED_WITHIN`` (2.5 s): one
  not done by then fails its member alone, as a timeout (503; the same request retried
  finds its own claim), and the others go on;
- **a chain** (``append_chain``: a hold, then the order counting on it): its records are
  stored in order, each only if the ones before it were. Alone, it is one *ordered*
  ``insert_many`` — MongoDB and FerretDB stop at the first refused document, so an order
  is never stored without its hold. In a batch with other members, the records go in
  waves, one unordered insert per position in the chains (a batch without chains: one
  insert, as before). A record after a refused one is not tried; every record not
  stored has its entry deleted at once. A crash in between leaves what any crash between
  two appends leaves (docs/reservations.md: the relay settles the hold). Waves cost the
  batch a third sequential insert that every command queued behind it waits for, so the
  repository chains only when the store is ``idle()`` (no batch in flight or queued).

- ``(aggregate_id, version)`` is unique, where ``version`` is the *first* aggregate
  version in the commit. Every writer appends at ``loaded_version + 1``, so of two
  writers that decided on the same state exactly one insert succeeds; the other gets
  ``ConcurrencyConflict`` (optimistic concurrency).
- ``command_id`` is unique, across commits and outcomes: a command cannot act twice,
  nor be both acted on and refused. A retry finds the earlier record (``DuplicateCommand``).
- until every event of the commit is on Kafka and its intent (if any) is done, the commit
  has an entry in the ``outbox`` collection, written before it (``outbox``: why, what a
  crash in between leaves, and the commits of the old format, ``published: false``).

**A refused member.** The server reports a duplicate key per member; MongoDB names the
violated index, FerretDB does not. Both are classified the same way, by the store: one
read of the refused members' command ids (one ``find`` for all of them in the batch). A
record found is the earlier one (``DuplicateCommand``); none means the version was
taken (``ConcurrencyConflict``). Records are never deleted, so the read cannot miss an
earlier record that caused the refusal. Any other per-member error is raised as it is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, ExecutionTimeout, WriteConcernError, WriteError

from shared.events import EventEnvelope
from shared.mongo import ensure_indexes

from command_api.adapters.group_commit import GroupCommit
from command_api.adapters.outbox import ORPHAN_GRACE, SEND_WITHIN, Outbox, entries_of
from command_api.application.ports import (
    OUTCOME_TYPE,
    Commit,
    ConcurrencyConflict,
    Document,
    DuplicateCommand,
    PartlyStored,
    Record,
    record_from_document,
)

COMMITS = "commits"
REQUIRED_WITHIN = SEND_WITHIN / 2  # seconds a batch waits for its members' required writes, at most
log = logging.getLogger(__name__)
DUPLICATE_KEY = 11000

INDEXES = [
    IndexModel([("aggregate_id", ASCENDING), ("version", ASCENDING)], unique=True, name="aggregate_version_unique"),
    IndexModel([("command_id", ASCENDING)], unique=True, name="command_id_unique"),
    IndexModel([("aggregate_type", ASCENDING), ("_id", ASCENDING)], name="by_type_in_order"),
    # Only OrderPlaced commits carry ``expiring`` (until the expirer has looked at them).
    IndexModel([("expiring", ASCENDING), ("committed_at", ASCENDING)], name="expiring_orders"),
]


async def insert_each(collection: AsyncCollection[Document], documents: list[Document]) -> dict[int, Document]:
    """Insert the documents unordered (each accepted or refused on its own); returns the
    refused ones' write errors (``code``, ``errmsg``) by position. One document is an
    ``insert_one``: pymongo's bulk set-up (a copy of the collection with other codec
    options, the bulk bookkeeping) is measurable CPU on a lone command's path."""
    try:
        if len(documents) == 1:
            await collection.insert_one(documents[0])
        else:
            await collection.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        return {e["index"]: e for e in exc.details.get("writeErrors", [])}
    except WriteError as exc:  # insert_one's refusal (a DuplicateKeyError among them)
        if len(documents) != 1:
            raise
        return {0: {**(exc.details or {}), "code": exc.code, "errmsg": str(exc)}}
    except WriteConcernError:  # written; insert_many reports this in a BulkWriteError without writeErrors
        if len(documents) != 1:
            raise
    return {}


async def insert_in_order(
    collection: AsyncCollection[Document], documents: list[Document]
) -> tuple[int, Document | None]:
    """Insert the documents in order, each only if the ones before it were (an ordered
    ``insert_many``: MongoDB and FerretDB stop at the first refusal). Returns how many
    were stored and the first refusal's write error."""
    try:
        await collection.insert_many(documents, ordered=True)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if not errors:  # only a write-concern error: written
            return len(documents), None
        return errors[0]["index"], errors[0]
    return len(documents), None


@dataclass(frozen=True, slots=True)
class _Append:
    """A member of a group commit: one record, or a chain (each stored only if the ones
    before it were), and the write it requires (already running), if any."""

    records: tuple[Record, ...]
    requires: asyncio.Future[None] | None = None


def _failure(requires: asyncio.Future[None] | None) -> Exception | None:
    if requires is None:
        return None
    if not requires.done():
        return ExecutionTimeout(f"its required write did not finish within {REQUIRED_WITHIN:.1f} s")
    if requires.cancelled():
        return RuntimeError("its required write was cancelled")
    error = requires.exception()
    return error if error is None or isinstance(error, Exception) else RuntimeError(repr(error))


def _duplicate(error: Document | Exception) -> bool:
    return not isinstance(error, Exception) and error.get("code") == DUPLICATE_KEY


def _sent_in_time(began: float) -> None:
    """Slow or paused: an orphan's grace must outlast any late insert (``outbox``)."""
    if time.monotonic() - began > SEND_WITHIN:
        raise _too_late()


def _too_late() -> ExecutionTimeout:
    return ExecutionTimeout(f"the commits were not sent within {SEND_WITHIN:.0f} s of their outbox entries")


class EventStore:
    """``EventStorePort``, ``OutboxPort`` and ``ExpiryPort`` on the ``commits`` collection
    (and its ``outbox``)."""

    def __init__(
        self, db: AsyncDatabase[Document], *, max_batch: int = 1000, orphan_grace: float = ORPHAN_GRACE
    ) -> None:
        self.commits = db[COMMITS]
        self.outbox = Outbox(db, self.commits, orphan_grace=orphan_grace)
        self.group_commit: GroupCommit[_Append] = GroupCommit(self._write, max_batch=max_batch, name="commits")

    async def create_indexes(self) -> None:
        """The indexes, and the commits of the old format adopted by the outbox (once)."""
        await ensure_indexes(self.commits, INDEXES)
        await self.outbox.create_indexes()
        await self.outbox.adopt_legacy()

    async def load(self, aggregate_id: str, after_version: int = 0) -> list[EventEnvelope]:
        query: dict[str, Any] = {"aggregate_id": aggregate_id}
        if after_version:
            query["version"] = {"$gt": after_version}
        cursor = self.commits.find(query, {"events": 1}).sort("version", ASCENDING)
        return [EventEnvelope.model_validate(e) async for doc in cursor for e in doc["events"]]

    async def append(self, record: Record, *, requires: Callable[[], Awaitable[None]] | None = None) -> None:
        await self._submit(_Append((record,), None if requires is None else asyncio.ensure_future(requires())))

    async def append_chain(self, records: Sequence[Record]) -> None:
        await self._submit(_Append(tuple(records)))

    def idle(self) -> bool:
        return self.group_commit.idle

    async def _submit(self, member: _Append) -> None:
        try:
            await self.group_commit.submit(member)
        finally:
            if member.requires is not None:
                if not member.requires.done():  # given up: its write with it
                    member.requires.cancel()
                _failure(member.requires)  # retrieved, even if its member was left out of every batch

    async def append_batch(self, records: Sequence[Record]) -> list[Exception | None]:
        """Each record on its own (the seeder's chunks; no group commit)."""
        return await self._write([_Append((r,)) for r in records])

    async def _write(self, members: Sequence[_Append]) -> list[Exception | None]:
        """The outbox entries first (alongside what members require), then the records
        (module docstring of ``outbox``); a chain's records in order."""
        began = time.monotonic()  # the entries' ``at`` is of this moment
        entries = asyncio.ensure_future(self.outbox.write(entries_of([r for m in members for r in m.records])))
        required = [m.requires for m in members if m.requires is not None]
        if required:  # begun before the entries; one not done in time fails its member alone
            await asyncio.wait(required, timeout=REQUIRED_WITHIN)
        await entries
        failed = {i: exc for i, m in enumerate(members) if (exc := _failure(m.requires)) is not None}
        if failed:  # their commits never come: their entries go now, not after the orphans' grace
            await self._drop_entries([r for i in failed for r in members[i].records])
        live = [i for i in range(len(members)) if i not in failed]
        stored, refused = await self._insert(members, live, began)
        errors = await self._classified(members, stored, refused)
        if refused:
            await self._drop_entries([r for i in refused for r in members[i].records[stored[i] :]])
        results: list[Exception | None] = []
        for i in range(len(members)):
            error = failed.get(i) or errors.get(i)
            if error is None:
                results.append(None)
            else:
                results.append(PartlyStored(stored[i], error) if stored.get(i) else error)
        return results

    async def _insert(
        self, members: Sequence[_Append], live: list[int], began: float
    ) -> tuple[dict[int, int], dict[int, Document | Exception]]:
        """The live members' records; returns how many of each were stored, and the write
        error of the first refused. A lone chain is one ordered insert (the server stops
        at the first refusal); otherwise one unordered insert per position in the chains
        (a batch of single records: one insert)."""
        stored = dict.fromkeys(live, 0)
        refused: dict[int, Document | Exception] = {}
        if len(live) == 1 and len(members[live[0]].records) > 1:
            _sent_in_time(began)
            (i,) = live
            stored[i], error = await insert_in_order(self.commits, [r.to_document() for r in members[i].records])
            if error is not None:
                refused[i] = error
            return stored, refused
        position, wave = 0, live
        while wave := [i for i in wave if position < len(members[i].records)]:
            if position and time.monotonic() - began > SEND_WITHIN:  # the chains' rest fail, unsent
                refused.update((i, _too_late()) for i in wave)
                break
            _sent_in_time(began)
            errors = await insert_each(self.commits, [members[i].records[position].to_document() for i in wave])
            for at, i in enumerate(wave):
                if at in errors:
                    refused[i] = errors[at]
                else:
                    stored[i] += 1
            wave = [i for i in wave if i not in refused]
            position += 1
        return stored, refused

    async def _classified(
        self, members: Sequence[_Append], stored: dict[int, int], refused: dict[int, Document | Exception]
    ) -> dict[int, Exception]:
        """Each refused record's error (module docstring: one read for the duplicates)."""
        first = {i: members[i].records[stored[i]] for i in refused}
        duplicates = [first[i].command_id for i, e in refused.items() if _duplicate(e)]
        earlier = await self._records_of(duplicates) if duplicates else {}
        errors: dict[int, Exception] = {}
        for i, error in refused.items():
            record = first[i]
            if isinstance(error, Exception):
                errors[i] = error
            elif error.get("code") != DUPLICATE_KEY:
                errors[i] = WriteError(error.get("errmsg", "write refused"), error.get("code"), error)
            elif (found := earlier.get(record.command_id)) is not None:
                errors[i] = DuplicateCommand(found)
            else:
                errors[i] = ConcurrencyConflict(getattr(record, "aggregate_id", record.command_id))
        return errors

    async def _drop_entries(self, refused: list[Record]) -> None:
        """The refused members' entries; if that fails, they are orphans the relay deletes later."""
        try:
            await self.outbox.drop([r.id for r in refused if isinstance(r, Commit) and not r.published])
        except Exception as exc:  # the members' outcomes stand: stored ones must not be answered with an error
            log.warning("outbox entries of %d refused commit(s) left to the relay: %s", len(refused), exc)

    async def _records_of(self, command_ids: list[str]) -> dict[str, Record]:
        cursor = self.commits.find({"command_id": {"$in": command_ids}})
        return {doc["command_id"]: record_from_document(doc) async for doc in cursor}

    async def find_by_command(self, command_id: str) -> Record | None:
        doc = await self.commits.find_one({"command_id": command_id})
        return record_from_document(doc) if doc else None

    async def unbind(self, command_id: str, fingerprint: str | None) -> None:
        await self.commits.delete_one(
            {"command_id": command_id, "aggregate_type": OUTCOME_TYPE, "answer": None, "fingerprint": fingerprint}
        )

    # -- the outbox ------------------------------------------------------------------
    async def unpublished(
        self,
        older_than: datetime,
        limit: int = 500,
        skip: Sequence[str] = (),
        leave: Callable[[ObjectId], bool] | None = None,
    ) -> list[Commit]:
        return await self.outbox.unpublished(older_than, limit, skip, leave)

    async def mark_published(self, commit_ids: Sequence[ObjectId]) -> None:
        await self.outbox.drop(commit_ids)

    # -- placed orders, for the expirer ----------------------------------------------------
    async def placed_before(self, moment: datetime, limit: int = 100) -> list[Commit]:
        cursor = (
            self.commits.find({"expiring": True, "committed_at": {"$lt": moment}})
            .sort("committed_at", ASCENDING)
            .limit(limit)
        )
        return [Commit.from_document(doc) async for doc in cursor]

    async def oldest_placement(self) -> datetime | None:
        doc = await self.commits.find_one({"expiring": True}, {"committed_at": 1}, sort=[("committed_at", ASCENDING)])
        return doc["committed_at"] if doc else None

    async def looked_at(self, commit_ids: Sequence[ObjectId]) -> None:
        if commit_ids:
            await self.commits.update_many({"_id": {"$in": list(commit_ids)}}, {"$unset": {"expiring": ""}})
