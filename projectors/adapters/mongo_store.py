"""The read-model store (``projectors.application.ports.ReadModelStore``) on MongoDB or a
wire-compatible server, and the event history on the event store's ``commits``.

Logical collection names map to physical ones (``names``: a rebuild writes into shadow
collections ``<name>__rebuild``). ``write_newer`` goes through ``bulk.Writer``, chosen per
server by ``bulk.detect_writer`` (on FerretDB a delete + insert per batch: a document is
missing for milliseconds); ``replace_newer`` is a guarded ``ReplaceOne`` per document on
every server but FerretDB-SQLite (where any filter but ``{_id}`` scans the collection, so
it swaps there too); ``append`` is an unordered ``insert_many`` whose duplicate keys are
"already there". ``set_merchant_name`` is one ``update_many``; on FerretDB-SQLite it reads
the stale products once and swaps them (there an ``update_many`` scans the collection per
document). The writes of states, views and derived documents go as up to
``write_concurrency`` bulk writes of disjoint ``_id``s at once (``WRITE_CONCURRENCY``);
each call returns, or raises, only once all of them have. Every other FerretDB or MongoDB
particularity stays in ``bulk``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import bson
from bson.errors import InvalidDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from shared.event_store_reader import events_between
from shared.events import EventEnvelope

from projectors.adapters.bulk import REPLACE, REV, Writer, insert_new, replace_in_place, swap_newer
from projectors.application.ports import Doc

WITHOUT_REV = {REV: 0}  # the swap writer's delete guard is the adapter's business
# FerretDB v1 (PostgreSQL, our build) pushes {_id: {$in}} down as "= ANY" on the _id index,
# and an $in on any other field as an OR of two GIN containment arms per value
# (infra/ferretdb/patches): PostgreSQL estimates each arm at 1 % of the table whatever the
# value, and at its default price of a containment test it planned past a few dozen values
# (and on small tables even at 10) a sequential scan testing every arm on every row
# (EXPLAIN: from 30-40 values on 50,000 counters, 20-30 on 200,000; 50 keys took 62 s on
# 50,000) — infra now prices the test (infra/servers/postgresql.py, CONTAINMENT_COST), and
# the chunk keeps a margin on a server without that price. Reads there go by chunks of _ids
# and by chunks of IN_CHUNK values of other fields, a few chunks at a time. Counters of
# 300 / 1,000 keys (4 sources a key),
# 2026-12-06 20:21-20:31 UTC, shared 2-core machine at load 5-9 (`python -m
# loadtests.counter_reads --sizes 50000 --keys 300,1000 --rounds 1`; the 200,000 copied in
# SQL from those, read by the same shapes):
#   50,000 counters: one equality query per key, 32 at a time 4.0 / 7.1 s; $in by 10
#   1.6 / 4.4 s; $in sorted and limited (the sort pushdown: "= ANY" on the (key, source)
#   btree) by 10, 50, 200: 2.1 / 4.7, 3.1 / 6.0, 4.5 / 5.2 s.
#   200,000 counters: per key 2.6 and 1.4 / 6.5 and 6.5 s; $in by 10 2.1 and 1.0 / 6.1 and
#   4.1 s; sorted by 10 1.4 / 4.9 s.
# By _id prefix ($regex "^<key>\|", sorted and limited) EXPLAIN shows a sequential scan
# (the _id index is not the sort pushdown's). Where the rest of a read's time goes: not measured.
ID_CHUNK = 200
IN_CHUNK = 10  # 20 GIN arms: a bitmap scan (at PostgreSQL's default price, 2-4x below the scan)
CONCURRENT_READS = 32

# Writes of one collection in flight at once (states and views: guarded replaces and
# inserts; derived documents on FerretDB: swaps), each a bulk write of disjoint _ids on its
# own pooled connection (bulk.replace_in_place): FerretDB runs one bulk's statements one
# after another, ~1 ms per document, so only concurrent bulks use PostgreSQL's other cores.
# Chosen by measurement (docs/projections.md, "Catch-up"); PROJECTOR_WRITE_CONCURRENCY.
WRITE_CONCURRENCY = 4
OLDER_IDS_PAGE = 5_000  # ids per page of a merchant's stale products (older_ids)
# The servers' limit on one document (MongoDB's and FerretDB's: 16 MiB).
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class MongoReadModels:
    db: AsyncDatabase[Doc]
    writer: Writer = REPLACE
    names: Mapping[str, str] = field(default_factory=dict)  # logical -> physical
    write_concurrency: int = WRITE_CONCURRENCY

    def collection(self, logical: str) -> AsyncCollection[Doc]:
        return self.db[self.names.get(logical, logical)]

    def renamed(self, names: Mapping[str, str]) -> MongoReadModels:
        """The same store writing (and reading) ``names`` instead (a rebuild's shadows)."""
        return MongoReadModels(self.db, self.writer, dict(names), self.write_concurrency)

    async def find_ids(self, collection: str, ids: Collection[str]) -> dict[str, Doc]:
        if not ids:
            return {}
        target = self.collection(collection)

        async def read(chunk: list[str]) -> list[Doc]:
            return await target.find({"_id": {"$in": chunk}}, WITHOUT_REV).to_list()

        found = await self._each(_chunks(list(ids), ID_CHUNK if self.writer.swap else len(ids)), read)
        return {doc["_id"]: doc for docs in found for doc in docs}

    async def find_in(self, collection: str, field: str, values: Collection[str]) -> list[Doc]:
        """Every document whose ``field`` equals one of ``values`` (exact string equality:
        no pattern, no prefix), each once."""
        if not values:
            return []
        target = self.collection(collection)
        if not self.writer.swap or self.writer.scans:  # MongoDB: one indexed $in; SQLite: one scan
            return await target.find({field: {"$in": list(values)}}, WITHOUT_REV).to_list()

        async def read(chunk: list[str]) -> list[Doc]:
            return await target.find({field: {"$in": chunk}}, WITHOUT_REV).to_list()

        distinct = list(dict.fromkeys(values))  # disjoint chunks: no document read twice
        return [doc for docs in await self._each(_chunks(distinct, IN_CHUNK), read) for doc in docs]

    async def _each(self, items: list[Any], read: Callable[[Any], Awaitable[list[Doc]]]) -> list[list[Doc]]:
        """``read`` of every item, a few at a time (the connection pool is shared)."""
        gate = asyncio.Semaphore(CONCURRENT_READS)

        async def gated(item: Any) -> list[Doc]:
            async with gate:
                return await read(item)

        return list(await asyncio.gather(*(gated(item) for item in items)))

    async def first(
        self,
        collection: str,
        equals: Mapping[str, object],
        order: Sequence[tuple[str, int]],
        limit: int,
        positive: str | None = None,
    ) -> list[Doc]:
        query: dict[str, Any] = dict(equals)
        if positive is not None:
            query[positive] = {"$gt": 0}
        return await self.collection(collection).find(query, WITHOUT_REV).sort(list(order)).limit(limit).to_list()

    async def write_newer(self, collection: str, docs: Sequence[Doc], known: Mapping[str, int] | None = None) -> None:
        await self.writer.write_newer(self.collection(collection), list(docs), known, self.write_concurrency)

    async def replace_newer(self, collection: str, docs: Sequence[Doc], known: Mapping[str, int] | None = None) -> None:
        if self.writer.scans:
            await self.writer.write_newer(self.collection(collection), list(docs))
        else:
            await replace_in_place(self.collection(collection), list(docs), known, self.write_concurrency)

    async def append(self, collection: str, docs: Sequence[Doc]) -> None:
        await insert_new(self.collection(collection), list(docs))

    async def delete_ids(self, collection: str, ids: Collection[str]) -> None:
        target = self.collection(collection)
        for chunk in _chunks(list(ids), ID_CHUNK):
            await target.delete_many({"_id": {"$in": chunk}})

    async def older_ids(self, collection: str, equals: Mapping[str, object], field: str, below: int) -> list[str]:
        """By pages sorted by ``_id`` (keyset): with a sort and a limit our FerretDB build
        runs the whole filter, ``$lt`` included, in PostgreSQL (pg-sort-limit-pushdown), where
        without them it sent every document of the merchant to Go to be decoded and tested
        — all of a merchant's products in both product collections for each rename, most
        often to find none (a catch-up writes products with the current name): 1.88 s
        against 0.12 s for a merchant of 2,898 products, and products batches held up 60-80 s
        on the full seed (2026-12-06 23:31 UTC). The same documents on every server."""
        target, ids, after = self.collection(collection), [], None
        while True:
            query: dict[str, Any] = {**equals, field: {"$lt": below}}
            if after is not None:
                query["_id"] = {"$gt": after}
            page = await target.find(query, {"_id": 1}).sort("_id", 1).limit(OLDER_IDS_PAGE).to_list()
            ids += [doc["_id"] for doc in page]
            if len(page) < OLDER_IDS_PAGE:
                return ids
            after = page[-1]["_id"]

    async def set_merchant_name(self, collection: str, ids: Collection[str], name: str, version: int) -> None:
        if not ids:
            return
        target = self.collection(collection)
        stale = {"_id": {"$in": list(ids)}, "merchant_version": {"$lt": version}}
        if self.writer.scans:
            await _swap_names(target, stale, name, version)
            return
        await target.update_many(stale, {"$set": {"merchant_name": name, "merchant_version": version}})

    def refusal(self, doc: Doc) -> str | None:
        """What the driver would refuse before sending: an integer beyond 64 bits, a value
        BSON cannot encode, a document above the servers' limit."""
        try:
            size = len(bson.encode(doc))
        except (InvalidDocument, OverflowError) as exc:
            return f"unstorable: {exc}"[:500]
        return f"unstorable: document of {size} bytes" if size > MAX_DOCUMENT_BYTES else None


async def _swap_names(target: AsyncCollection[Doc], stale: Doc, name: str, version: int) -> None:
    """FerretDB-SQLite: an ``update_many`` rewrites each matched document with its own
    collection scan; read the stale products once and swap them in one batch instead
    (``bulk.swap_newer``), guarded by both versions."""
    renamed = [{**p, "merchant_name": name, "merchant_version": version} for p in await target.find(stale).to_list()]
    if renamed:
        await swap_newer(
            target,
            renamed,
            lambda docs: [
                {
                    "$or": [
                        {"_id": d["_id"], "version": d["version"], "merchant_version": {"$lt": d["merchant_version"]}}
                        for d in docs
                    ]
                }
            ],
            lambda stored, doc: (
                stored["version"] == doc["version"] and stored["merchant_version"] < doc["merchant_version"]
            ),
        )


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    size = max(size, 1)
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass(frozen=True)
class StoredEvents:
    """``ports.EventHistory`` on the event store (read through ``shared.event_store_reader``)."""

    db: AsyncDatabase[Doc]

    async def events_between(self, aggregate_id: str, after: int, before: int) -> list[EventEnvelope]:
        return await events_between(self.db, aggregate_id, after, before)
