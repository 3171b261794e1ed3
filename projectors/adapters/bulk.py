"""Writing projected documents: only ever replace a document by a *newer* version of itself.

Every read-model document carries ``version``; a write must never move it backwards, even
when two writers race (two projector processes during a consumer-group rebalance, a
rebuild's catch-up next to the live projector, two processes recomputing one derived
``merchant_stats`` bucket). Two ways to get that, chosen by what the server does cheaply
(``detect_writer``):

- ``guarded_replace``: ``ReplaceOne({_id, version: {$lt: new}}, doc, upsert)``. On MongoDB
  (and FerretDB on PostgreSQL, which pushes the ``_id`` part down) that is one ``_id``
  lookup. An equal or newer stored document makes the upsert hit the unique ``_id``: a
  duplicate-key error, i.e. "already applied".
- ``swap_newer``: per batch, delete the stored documents older than ours, then one
  ``insert_many`` (unique ``_id`` index). A newer stored document is not deleted, so its
  ``_id`` makes our insert a duplicate; a duplicate is re-checked (one more read) and
  retried while the stored version is still older — a racing writer that deleted and
  inserted in between cannot make us skip a newer write. The price: between the delete
  and the insert (milliseconds) a reader does not see those documents; the caches are
  invalidated after the batch, so nothing stale or missing is cached beyond it.
  Used on FerretDB v1, which runs each statement of an ``update`` as its own find and
  write: on PostgreSQL (``$in`` on ``_id`` pushed down by our build, so the delete is one
  ``{_id: {$in}, version: {$lt: v}}`` per version in the batch) 1,000 documents swap in
  about a third of the time 1,000 guarded replaces take; on SQLite, which pushes down only
  a filter that is *exactly* ``{_id: <value>}`` and decodes the whole collection in Go
  for anything else, the delete is one ``$or`` — one scan whatever the batch size,
  instead of one per replaced document.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from pymongo import ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000
PROBE = "_guard_probe"
MAX_SWAP_ROUNDS = 20  # each round needs a racing newer write; more means a bug, not load


def guarded_replace(doc: dict) -> ReplaceOne:
    """Replace a document by a newer version of itself, or insert it."""
    return ReplaceOne({"_id": doc["_id"], "version": {"$lt": doc["version"]}}, doc, upsert=True)


@dataclass(frozen=True)
class Writer:
    """How this server writes "newer versions only" cheaply (see the module doc)."""

    swap: bool = False  # guarded delete + insert per batch, not a guarded replace per document
    scans: bool = False  # any filter but exactly {_id} scans a collection (FerretDB-SQLite)

    async def write_newer(self, collection: AsyncCollection, docs: list[dict]) -> int:
        """Write each document unless the stored one is as new; returns how many were not."""
        if not docs:
            return 0
        if self.swap:
            return await swap_newer(collection, docs, one_scan_filter if self.scans else filters_by_version)
        return await apply_updates(collection, [guarded_replace(d) for d in docs])


REPLACE = Writer()


async def detect_writer(db: AsyncDatabase) -> Writer:
    """From what the server's ``explain`` says (MongoDB reports no ``filterPushdown``):

    - a ``{_id, version}`` filter not pushed down (FerretDB v1 on SQLite): swap, one scan;
    - FerretDB pushing ``{_id: {$in}}`` down (on PostgreSQL, our build): swap by ``_id``;
    - otherwise (MongoDB): guarded replaces.
    """
    probe = db[PROBE]
    await probe.replace_one({"_id": "probe"}, {"version": 1}, upsert=True)
    try:
        guard = await probe.find({"_id": "probe", "version": {"$lt": 2}}).explain()
        by_ids = await probe.find({"_id": {"$in": ["probe", "other"]}}).explain()
    finally:
        await db.drop_collection(PROBE)
    if guard.get("filterPushdown") is False:
        log.warning(
            "this server scans the collection for an {_id, version} filter: writing "
            "newer versions as one guarded delete + insert per batch"
        )
        return Writer(swap=True, scans=True)
    if by_ids.get("filterPushdown") is True:
        return Writer(swap=True)
    return REPLACE


def filters_by_version(docs: list[dict]) -> list[dict]:
    """The stale stored documents, one ``_id`` lookup per version in the batch."""
    by_version: dict[int, list] = defaultdict(list)
    for doc in docs:
        by_version[doc["version"]].append(doc["_id"])
    return [{"_id": {"$in": ids}, "version": {"$lt": v}} for v, ids in sorted(by_version.items())]


def one_scan_filter(docs: list[dict]) -> list[dict]:
    """The same as one ``$or``: where every such filter is a collection scan, scan once."""
    return [{"$or": filters_by_version(docs)}]


async def swap_newer(
    collection: AsyncCollection,
    docs: list[dict],
    stale_filters: Callable[[list[dict]], list[dict]] = filters_by_version,
    still_stale: Callable[[dict, dict], bool] = lambda stored, doc: stored["version"] < doc["version"],
) -> int:
    """Guarded delete of the stale stored documents, insert, retry the duplicates that are
    still stale (``stale_filters``/``still_stale`` say what "stale" means)."""
    pending = {d["_id"]: d for d in docs}
    skipped = 0
    for _ in range(MAX_SWAP_ROUNDS):
        for stale in stale_filters(list(pending.values())):
            await collection.delete_many(stale)
        duplicates = await _insert_many(collection, list(pending.values()))
        if not duplicates:
            return skipped
        stored = {d["_id"]: d async for d in collection.find({"_id": {"$in": duplicates}})}
        retry = {i: pending[i] for i in duplicates if i not in stored or still_stale(stored[i], pending[i])}
        skipped += len(duplicates) - len(retry)
        if not retry:
            return skipped
        pending = retry
    raise RuntimeError(f"{collection.name}: newer-version swap did not settle for {sorted(pending)[:5]}")


async def _insert_many(collection: AsyncCollection, docs: list[dict]) -> list:
    """Insert; the ``_id`` of every document that hit a duplicate key."""
    try:
        await collection.insert_many(docs, ordered=False)
        return []
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(err.get("code") != DUPLICATE_KEY for err in errors):
            raise
        return [docs[err["index"]]["_id"] for err in errors]


async def apply_updates(collection: AsyncCollection, updates: list) -> int:
    """Apply updates; duplicate-key failures are version-guarded no-ops (already applied).

    Returns how many were no-ops. Any other failure raises, so the batch is not
    acknowledged and Kafka redelivers it.
    """
    if not updates:
        return 0
    try:
        await collection.bulk_write(updates, ordered=False)
        return 0
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(err.get("code") != DUPLICATE_KEY for err in errors):
            raise
        return len(errors)
    except KeyError as exc:
        # FerretDB v1 answers an ``update`` whose upsert hit a duplicate key without
        # ``nModified``, which pymongo's bulk merge trips on; one at a time reports it
        # properly (as DuplicateKeyError).
        if exc.args != ("nModified",):
            raise
        return await _one_by_one(collection, updates)


async def _one_by_one(collection: AsyncCollection, updates: list) -> int:
    duplicates = 0
    for op in updates:
        try:
            await collection.bulk_write([op], ordered=False)
        except BulkWriteError as exc:
            if any(err.get("code") != DUPLICATE_KEY for err in exc.details.get("writeErrors", [])):
                raise
            duplicates += 1
        except KeyError:
            try:
                await collection.replace_one(op._filter, op._doc, upsert=op._upsert)
            except DuplicateKeyError:
                duplicates += 1
    return duplicates
