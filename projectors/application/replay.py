"""A rebuild's shadow collections held in memory, written to the store in large chunks.

A rebuild's replay is the only writer of its shadow collections and nobody reads them
until the swap (``projectors.entrypoints.rebuild``). ``ReplayStore`` is a
``ports.ReadModelStore`` that keeps those collections (``held``) in process: the engine's
reads of states, counters and derived documents are dictionary look-ups, not round trips,
and every document reaches the store once, at a ``flush``, in ``insert_many`` chunks —
not once per batch that touched it. Collections it does not hold (``parked``: the live
one, as the store-backed replay uses it) go straight to ``target``.

What a ``flush`` writes is what the store-backed replay would have left: documents the
engine wrote with ``write_newer`` through the target's ``write_newer`` (on FerretDB the
same ``_rev`` guard), those it ``append``-ed (counters) through ``append``, and the
counters it deleted since the last flush deleted. Documents written by an earlier flush
and changed since are replaced (``write_newer`` given the versions it wrote).

**Bounded memory.** When more than ``bound`` documents are held, everything is flushed
and the documents of the ``spill`` collections (the stream's states, its largest and
looked up only by ``_id``) are dropped from memory; a later look-up of one of them reads
the shadow (``target.find_ids``), which holds exactly what was flushed. The views
(``first``'s price look-ups) and the derived collections stay in memory: a few per
product at most.

**Failure.** Nothing here survives the process: a rebuild that fails starts again from
empty shadows (the rebuild drops them first). Documents are kept and handed out by
reference, not copied: the engine's folds build new documents rather than change stored
ones (the store-backed replay's ``Known`` relies on the same).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from projectors.application.ports import Doc, ReadModelStore

WRITE, APPEND = "write", "append"
FLUSH_CHUNK = 5_000  # documents per insert_many (a few MB: well below a message's 48 MB)
CONCURRENT_CHUNKS = 3  # the server writes on its own threads while we send the next chunk
BOUND = 300_000  # documents held before a flush and a spill (see the module doc)


def _sortable(value: Any) -> tuple[int, Any]:
    """MongoDB's order across types, as far as read models need it: null first."""
    return (0, 0) if value is None else (1, value)


@dataclass
class _Held:
    """One held collection: its documents, look-up indexes, and what a flush owes."""

    indexes: tuple[tuple[str, ...], ...] = ()
    docs: dict[str, Doc] = field(default_factory=dict)
    by: dict[tuple[str, ...], dict[tuple[Any, ...], set[str]]] = field(default_factory=dict)
    mode: str | None = None  # WRITE or APPEND: how the engine writes it
    dirty: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)  # flushed, then deleted
    flushed: dict[str, int] = field(default_factory=dict)  # _id -> version in the shadow
    spilled: bool = False  # some flushed documents are no longer held

    def __post_init__(self) -> None:
        self.by = {fields: {} for fields in self.indexes}

    def put(self, doc: Doc) -> None:
        old = self.docs.get(doc["_id"])
        if old is not None:
            self._unindex(old)
        self.docs[doc["_id"]] = doc
        for fields, entries in self.by.items():
            entries.setdefault(tuple(map(doc.get, fields)), set()).add(doc["_id"])
        self.dirty.add(doc["_id"])
        self.removed.discard(doc["_id"])

    def delete(self, doc_id: str) -> None:
        old = self.docs.pop(doc_id, None)
        if old is not None:
            self._unindex(old)
        self.dirty.discard(doc_id)
        if doc_id in self.flushed:
            self.removed.add(doc_id)

    def _unindex(self, doc: Doc) -> None:
        for fields, entries in self.by.items():
            ids = entries.get(tuple(map(doc.get, fields)))
            if ids is not None:
                ids.discard(doc["_id"])

    def candidates(self, equals: Mapping[str, object]) -> Iterable[Doc]:
        for fields, entries in self.by.items():
            if all(f in equals for f in fields):
                return [self.docs[i] for i in entries.get(tuple(equals[f] for f in fields), ())]
        return self.docs.values()


class ReplayStore:
    """``ports.ReadModelStore`` for a sole writer into empty shadows (see the module doc).

    ``held``: the logical collections kept here; ``indexes``: per held collection, the
    field tuples ``first``/``find_in`` look up by (a look-up by others scans);
    ``spill``: the collections dropped from memory past ``bound``."""

    def __init__(
        self,
        target: ReadModelStore,
        held: Iterable[str],
        *,
        indexes: Mapping[str, tuple[tuple[str, ...], ...]] | None = None,
        spill: Iterable[str] = (),
        bound: int = BOUND,
    ) -> None:
        self.target = target
        self.held = {name: _Held((indexes or {}).get(name, ())) for name in held}
        self.spill = set(spill)
        self.bound = bound
        self.flushes = 0
        self.written = 0  # documents written to the target (a flush's replacements included)

    def _of(self, collection: str) -> _Held | None:
        return self.held.get(collection)

    @property
    def size(self) -> int:
        return sum(len(h.docs) for h in self.held.values())

    # -- reads ----------------------------------------------------------------------------
    async def find_ids(self, collection: str, ids: Collection[str]) -> dict[str, Doc]:
        held = self._of(collection)
        if held is None:
            return await self.target.find_ids(collection, ids)
        found = {i: held.docs[i] for i in ids if i in held.docs}
        if held.spilled:
            gone = [i for i in ids if i not in found and i in held.flushed]
            found |= await self.target.find_ids(collection, gone) if gone else {}
        return found

    async def find_in(self, collection: str, field: str, values: Collection[str]) -> list[Doc]:
        held = self._of(collection)
        if held is None:
            return await self.target.find_in(collection, field, values)
        self._not_spilled(held, collection)
        if (field,) in held.by:
            entries = held.by[(field,)]
            return [held.docs[i] for v in set(values) for i in entries.get((v,), ())]
        wanted = set(values)
        return [d for d in held.docs.values() if d.get(field) in wanted]

    async def first(
        self,
        collection: str,
        equals: Mapping[str, object],
        order: Sequence[tuple[str, int]],
        limit: int,
        positive: str | None = None,
    ) -> list[Doc]:
        held = self._of(collection)
        if held is None:
            return await self.target.first(collection, equals, order, limit, positive)
        self._not_spilled(held, collection)
        found = [
            d
            for d in held.candidates(equals)
            if all(d.get(k) == v for k, v in equals.items())
            and (positive is None or (isinstance(d.get(positive), int) and d[positive] > 0))
        ]
        for name, direction in reversed(order):  # stable sorts, last key first
            found.sort(key=lambda d: _sortable(d.get(name)), reverse=direction < 0)
        return found[:limit]

    async def older_ids(self, collection: str, equals: Mapping[str, object], field: str, below: int) -> list[str]:
        held = self._of(collection)
        if held is None:
            return await self.target.older_ids(collection, equals, field, below)
        self._not_spilled(held, collection)
        return [i for i, d in held.docs.items() if all(d.get(k) == v for k, v in equals.items()) and d[field] < below]

    @staticmethod
    def _not_spilled(held: _Held, collection: str) -> None:
        if held.spilled:  # only look-ups by _id may reach the shadow
            raise RuntimeError(f"{collection} was spilled: only find_ids may read it")

    # -- writes ---------------------------------------------------------------------------
    async def write_newer(self, collection: str, docs: Sequence[Doc], known: Mapping[str, int] | None = None) -> None:
        held = self._of(collection)
        if held is None:
            await self.target.write_newer(collection, docs, known)
            return
        held.mode = held.mode or WRITE
        for doc in docs:
            stored = held.docs.get(doc["_id"])
            if stored is None and held.spilled and doc["_id"] in held.flushed:
                stored = {"version": held.flushed[doc["_id"]]}
            if stored is None or stored["version"] < doc["version"]:
                held.put(doc)

    async def replace_newer(self, collection: str, docs: Sequence[Doc], known: Mapping[str, int] | None = None) -> None:
        if self._of(collection) is None:
            await self.target.replace_newer(collection, docs, known)
            return
        await self.write_newer(collection, docs, known)

    async def append(self, collection: str, docs: Sequence[Doc]) -> None:
        held = self._of(collection)
        if held is None:
            await self.target.append(collection, docs)
            return
        held.mode = held.mode or APPEND
        for doc in docs:
            if doc["_id"] not in held.docs and doc["_id"] not in held.flushed:
                held.put(doc)

    async def delete_ids(self, collection: str, ids: Collection[str]) -> None:
        held = self._of(collection)
        if held is None:
            await self.target.delete_ids(collection, ids)
            return
        for i in ids:
            held.delete(i)

    async def set_merchant_name(self, collection: str, ids: Collection[str], name: str, version: int) -> None:
        held = self._of(collection)
        if held is None:
            await self.target.set_merchant_name(collection, ids, name, version)
            return
        self._not_spilled(held, collection)
        for i in ids:
            doc = held.docs.get(i)
            if doc is not None and doc["merchant_version"] < version:
                held.put({**doc, "merchant_name": name, "merchant_version": version})  # a new one: never in place

    def refusal(self, doc: Doc) -> str | None:
        return self.target.refusal(doc)

    # -- to the store ---------------------------------------------------------------------
    async def settle(self) -> None:
        """After a batch: past ``bound``, flush and spill (see the module doc)."""
        if self.size > self.bound:
            await self.flush(spill=True)

    async def flush(self, *, spill: bool = False) -> None:
        """Write what changed since the last flush, ``CONCURRENT_CHUNKS`` chunks at a time
        (distinct documents: they do not race); ``spill``: then drop the ``spill``
        collections' documents from memory."""
        gate = asyncio.Semaphore(CONCURRENT_CHUNKS)

        async def write(name: str, held: _Held, chunk: list[Doc]) -> None:
            async with gate:
                if held.mode == APPEND:
                    await self.target.append(name, chunk)
                else:
                    was = {d["_id"]: held.flushed[d["_id"]] for d in chunk if d["_id"] in held.flushed}
                    await self.target.write_newer(name, chunk, was)

        writes = []
        for name, held in self.held.items():
            changed = [held.docs[i] for i in sorted(held.dirty)]
            writes += [write(name, held, changed[i : i + FLUSH_CHUNK]) for i in range(0, len(changed), FLUSH_CHUNK)]
        await asyncio.gather(*writes)
        for name, held in self.held.items():
            held.flushed.update((i, held.docs[i]["version"]) for i in held.dirty)
            self.written += len(held.dirty)
            if held.removed:
                await self.target.delete_ids(name, sorted(held.removed))
                for i in held.removed:
                    held.flushed.pop(i, None)
            held.dirty.clear()
            held.removed.clear()
            if spill and name in self.spill and held.docs:
                held.docs.clear()
                held.by = {fields: {} for fields in held.indexes}
                held.spilled = True
        self.flushes += 1
