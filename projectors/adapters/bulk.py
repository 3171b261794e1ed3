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
- ``swap_read``: per batch, read the stored versions of the batch's ``_id``s (one query),
  delete exactly the stored documents older than ours (one ``delete_many`` on ``_id`` and
  ``_rev`` — ``"<_id>@<version>"``, written with every document this way — so a document
  a racing writer replaced since the read is left alone), then one ``insert_many``
  (unique ``_id``). A duplicate (a racer inserted first) is read again and retried while
  the stored version is still older. Used on FerretDB v1 on PostgreSQL, which runs each
  statement of an ``update`` as its own find and write and pushes ``_id``/``$in``
  equality down (our build): three statements per batch whatever its versions, where a
  guarded delete per distinct version cost one round trip each (a batch of derived
  documents has as many versions as documents). The price of both swaps: between the
  delete and the insert (milliseconds) a reader does not see those documents; the caches
  are invalidated after the batch, so nothing stale or missing is cached beyond it.
- ``swap_newer``: FerretDB v1 on SQLite, which pushes down only a filter that is *exactly*
  ``{_id: <value>}`` and decodes the whole collection in Go for anything else: one
  guarded ``$or`` delete (one scan whatever the batch size), then the same insert.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

Doc = dict[str, Any]
Collection = AsyncCollection[Doc]

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000
PROBE = "_guard_probe"
MAX_SWAP_ROUNDS = 20  # each round needs a racing newer write; more means a bug, not load
REV = "_rev"  # "<_id>@<version>": what swap_read deletes by (FerretDB-PostgreSQL only)
# Our FerretDB build pushes an $in of at most 1,000 values down; a longer one (a rebuild's
# batch of 2,000 commits names more aggregates) reads and filters the whole table in Go.
IN_CHUNK = 200


def _chunks(items: list[Any], size: int = IN_CHUNK) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def guarded_replace(doc: Doc) -> ReplaceOne[Doc]:
    """Replace a document by a newer version of itself, or insert it."""
    return ReplaceOne({"_id": doc["_id"], "version": {"$lt": doc["version"]}}, doc, upsert=True)


@dataclass(frozen=True)
class Writer:
    """How this server writes "newer versions only" cheaply (see the module doc)."""

    swap: bool = False  # guarded delete + insert per batch, not a guarded replace per document
    scans: bool = False  # any filter but exactly {_id} scans a collection (FerretDB-SQLite)

    async def write_newer(
        self, collection: Collection, docs: list[Doc], known: Mapping[str, int] | None = None, concurrency: int = 1
    ) -> int:
        """Write each document unless the stored one is as new; returns how many were not.
        ``known``: stored versions the caller just read (``swap_read`` then skips its read).
        ``concurrency``: swaps of disjoint ``_id``s at once (FerretDB on PostgreSQL; see
        ``replace_in_place``)."""
        if not docs:
            return 0
        if self.swap and self.scans:
            return await swap_newer(collection, docs, one_scan_filter)
        if self.swap:
            chunks = _split(docs, concurrency)
            return sum(await _all([swap_read(collection, chunk, known) for chunk in chunks]))
        return await apply_updates(collection, [guarded_replace(d) for d in docs])


REPLACE = Writer()


async def detect_writer(db: AsyncDatabase[Doc]) -> Writer:
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


def filters_by_version(docs: list[Doc]) -> list[Doc]:
    """The stale stored documents, one ``_id`` lookup per version in the batch."""
    by_version: dict[int, list[str]] = defaultdict(list)
    for doc in docs:
        by_version[doc["version"]].append(doc["_id"])
    return [{"_id": {"$in": ids}, "version": {"$lt": v}} for v, ids in sorted(by_version.items())]


def one_scan_filter(docs: list[Doc]) -> list[Doc]:
    """The same as one ``$or``: where every such filter is a collection scan, scan once."""
    return [{"$or": filters_by_version(docs)}]


async def swap_newer(
    collection: Collection,
    docs: list[Doc],
    stale_filters: Callable[[list[Doc]], list[Doc]] = filters_by_version,
    still_stale: Callable[[Doc, Doc], bool] = lambda stored, doc: bool(stored["version"] < doc["version"]),
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


def revision(doc: Doc) -> str:
    return f"{doc['_id']}@{doc['version']}"


async def swap_read(collection: Collection, docs: list[Doc], known: Mapping[str, int] | None = None) -> int:
    """Read the stored versions (or trust ``known`` the first time: a stale guess deletes
    nothing and the insert's duplicate sends it round again), delete exactly the older
    stored documents, insert; retry what a racer inserted first while it is still older."""
    pending = {d["_id"]: d for d in docs}
    skipped = 0
    for _ in range(MAX_SWAP_ROUNDS):
        if known is not None:
            stored = {i: {"_id": i, "version": v, REV: f"{i}@{v}"} for i, v in known.items() if i in pending}
            known = None
        else:
            stored = {}
            for chunk in _chunks(list(pending)):
                stored |= {d["_id"]: d async for d in collection.find({"_id": {"$in": chunk}}, {"version": 1, REV: 1})}
        older = {i: d for i, d in pending.items() if i not in stored or stored[i]["version"] < d["version"]}
        skipped += len(pending) - len(older)
        if not older:
            return skipped
        await _delete_exactly(collection, [stored[i] for i in older if i in stored])
        duplicates = await _insert_many(collection, [{**d, REV: revision(d)} for d in older.values()])
        if not duplicates:
            return skipped
        pending = {i: older[i] for i in duplicates}
    raise RuntimeError(f"{collection.name}: newer-version swap did not settle for {sorted(pending)[:5]}")


async def _delete_exactly(collection: Collection, stored: list[Doc]) -> None:
    """Delete these stored documents if they are still the version read."""
    if not stored:
        return
    for tagged in _chunks([d for d in stored if REV in d]):
        await collection.delete_many(
            {"_id": {"$in": [d["_id"] for d in tagged]}, REV: {"$in": [d[REV] for d in tagged]}}
        )
    untagged = [d for d in stored if REV not in d]  # written before _rev existed
    for version in sorted({d["version"] for d in untagged}):
        for ids in _chunks([d["_id"] for d in untagged if d["version"] == version]):
            await collection.delete_many({"_id": {"$in": ids}, "version": version, REV: {"$exists": False}})


async def replace_in_place(
    collection: Collection, docs: list[Doc], known: Mapping[str, int] | None = None, concurrency: int = 1
) -> None:
    """Guarded replaces, never a delete; documents ``known`` not to be stored yet are
    inserted in one statement instead (a duplicate — a racer created it — is replaced).

    With ``concurrency`` above 1 the inserts and the replaces go as up to that many bulk
    writes each, of disjoint ``_id``s, all at once, each on its own pooled connection:
    FerretDB runs a bulk's statements one after another on one connection (a read then a
    write by ``_id`` each, ~1 ms per document), so only concurrent bulks let PostgreSQL use
    more than one core. Each document keeps its own guard, so the chunks need no order
    between them; the call returns only when every chunk has, and raises the first failure
    then (the batch is redelivered; what the other chunks wrote is newer-only, so the
    redelivery converges)."""
    fresh = [d for d in docs if known is not None and d["_id"] not in known]
    stored = [d for d in docs if known is None or d["_id"] in known]
    if concurrency <= 1:  # one insert, then one bulk of replaces
        taken = set(await _insert_many(collection, fresh)) if fresh else set()
        await _replace_settled(collection, [*stored, *(d for d in fresh if d["_id"] in taken)])
        return
    inserted = _split(fresh, concurrency)
    found = await _all(
        [
            *(_insert_many(collection, chunk) for chunk in inserted),
            *(_replace_settled(collection, chunk) for chunk in _split(stored, concurrency)),
        ]
    )
    taken = {i for ids in found[: len(inserted)] for i in ids}
    if taken:  # a racer created them since ``known`` was read: replace them, guarded
        await _replace_settled(collection, [d for d in fresh if d["_id"] in taken])


async def _all(writes: list[Awaitable[Any]]) -> list[Any]:
    """Run the writes at once; when every one has finished, raise the first failure."""
    results = await asyncio.gather(*writes, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


MIN_CHUNK = 50  # below this a chunk's round trip costs more than its documents' share


def _split(docs: list[Doc], parts: int) -> list[list[Doc]]:
    """``docs`` in at most ``parts`` contiguous chunks of at least ``MIN_CHUNK`` (one
    document per ``_id`` in a batch: the chunks' ``_id``s are disjoint)."""
    if not docs:
        return []
    parts = max(1, min(parts, len(docs) // MIN_CHUNK))
    size = -(-len(docs) // parts)
    return [docs[i : i + size] for i in range(0, len(docs), size)]


async def _replace_settled(collection: Collection, rest: list[Doc]) -> None:
    """FerretDB v1 answers a bulk in which a guard failed (an upsert hitting the unique
    ``_id``) without ``nModified``, so pymongo cannot tell which statements applied: then
    the stored versions are read once and only the replaces still needed are sent again."""
    for _ in range(MAX_SWAP_ROUNDS):
        try:
            await apply_updates(collection, [guarded_replace(d) for d in rest], one_by_one=False)
            return
        except KeyError as exc:
            if exc.args != ("nModified",):
                raise
        stored: dict[str, int] = {}
        for ids in _chunks([d["_id"] for d in rest]):
            stored |= {d["_id"]: d["version"] async for d in collection.find({"_id": {"$in": ids}}, {"version": 1})}
        rest = [d for d in rest if stored.get(d["_id"], -1) < d["version"]]
        if not rest:
            return
    raise RuntimeError(f"{collection.name}: guarded replaces did not settle for {[d['_id'] for d in rest][:5]}")


async def insert_new(collection: Collection, docs: list[Doc]) -> None:
    """Insert; a document whose ``_id`` is stored already stays as stored (not an error)."""
    if docs:
        await _insert_many(collection, docs)


async def _insert_many(collection: Collection, docs: list[Doc]) -> list[str]:
    """Insert; the ``_id`` of every document that hit a duplicate key."""
    try:
        await collection.insert_many(docs, ordered=False)
        return []
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(err.get("code") != DUPLICATE_KEY for err in errors):
            raise
        return [docs[err["index"]]["_id"] for err in errors]


async def apply_updates(collection: Collection, updates: Sequence[Any], one_by_one: bool = True) -> int:
    """Apply updates; duplicate-key failures are version-guarded no-ops (already applied).

    Returns how many were no-ops. Any other failure raises, so the batch is not
    acknowledged and Kafka redelivers it. ``one_by_one=False`` lets FerretDB's missing
    ``nModified`` (see below) reach the caller as ``KeyError`` instead.
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
        if exc.args != ("nModified",) or not one_by_one:
            raise
        return await _one_by_one(collection, updates)


async def _one_by_one(collection: Collection, updates: Sequence[Any]) -> int:
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
