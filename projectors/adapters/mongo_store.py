"""The read-model store (``projectors.application.ports.ReadModelStore``) on MongoDB or a
wire-compatible server, and the event history on the event store's ``commits``.

Logical collection names map to physical ones (``names``: a rebuild writes into shadow
collections ``<name>__rebuild``). Newer-version writes go through ``bulk.Writer``, chosen
per server by ``bulk.detect_writer``; FerretDB-SQLite's copy of merchant names reads the
stale products once and swaps them (there an ``update_many`` scans the collection per
document). Every other FerretDB or MongoDB particularity stays in ``bulk``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo import UpdateMany
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from shared.event_store_reader import events_between
from shared.events import EventEnvelope

from projectors.adapters.bulk import REPLACE, REV, Writer, apply_updates, swap_newer
from projectors.application.ports import Doc

WITHOUT_REV = {REV: 0}  # the swap writer's delete guard is the adapter's business


@dataclass(frozen=True)
class MongoReadModels:
    db: AsyncDatabase[Doc]
    writer: Writer = REPLACE
    names: Mapping[str, str] = field(default_factory=dict)  # logical -> physical

    def collection(self, logical: str) -> AsyncCollection[Doc]:
        return self.db[self.names.get(logical, logical)]

    def renamed(self, names: Mapping[str, str]) -> MongoReadModels:
        """The same store writing (and reading) ``names`` instead (a rebuild's shadows)."""
        return MongoReadModels(self.db, self.writer, dict(names))

    async def find_ids(self, collection: str, ids: Collection[str]) -> dict[str, Doc]:
        if not ids:
            return {}
        found = self.collection(collection).find({"_id": {"$in": list(ids)}}, WITHOUT_REV)
        return {doc["_id"]: doc async for doc in found}

    async def find_in(self, collection: str, field: str, values: Collection[str]) -> list[Doc]:
        if not values:
            return []
        return await self.collection(collection).find({field: {"$in": list(values)}}, WITHOUT_REV).to_list()

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
        await self.writer.write_newer(self.collection(collection), list(docs), known)

    async def copy_merchant_names(self, collection: str, merchants: Sequence[Doc]) -> None:
        if not merchants:
            return
        target = self.collection(collection)
        if self.writer.scans:
            await _swap_names(target, merchants)
            return
        await apply_updates(
            target,
            [
                UpdateMany(
                    {"merchant_id": m["_id"], "merchant_version": {"$lt": m["version"]}},
                    {"$set": {"merchant_name": m["name"], "merchant_version": m["version"]}},
                )
                for m in merchants
            ],
        )


async def _swap_names(target: AsyncCollection[Doc], merchants: Sequence[Doc]) -> None:
    """FerretDB-SQLite: an ``update_many`` rewrites each matched document with its own
    collection scan; read the stale products once and swap them in one batch instead
    (``bulk.swap_newer``), guarded by both versions."""
    by_id = {m["_id"]: m for m in merchants}
    stale = await target.find(
        {"$or": [{"merchant_id": m["_id"], "merchant_version": {"$lt": m["version"]}} for m in merchants]}
    ).to_list()
    renamed = [
        {**p, "merchant_name": by_id[p["merchant_id"]]["name"], "merchant_version": by_id[p["merchant_id"]]["version"]}
        for p in stale
    ]
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


@dataclass(frozen=True)
class StoredEvents:
    """``ports.EventHistory`` on the event store (read through ``shared.event_store_reader``)."""

    db: AsyncDatabase[Doc]

    async def events_between(self, aggregate_id: str, after: int, before: int) -> list[EventEnvelope]:
        return await events_between(self.db, aggregate_id, after, before)
