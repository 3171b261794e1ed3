"""In-memory twins of the projection engine's ports, for unit tests: the engine and the
folds run on them without a server, and ``tests/contracts`` holds them to the behaviour of
the MongoDB adapter.

Documents are copied in and out (as a database would), ``write_newer`` applies the same
guard as the MongoDB writer, and ``pause`` yields to the event loop before every call so
tests can interleave two engines (a rebalance) or stop one between two writes (a crash:
``crash_after``).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.events import EventEnvelope

from projectors.application.ports import Doc


class Crash(RuntimeError):
    """Raised by ``MemoryReadModels`` once its write budget is spent (a simulated kill)."""


@dataclass
class Budget:
    writes_left: int | None = None  # before a Crash (None: never)


@dataclass
class MemoryReadModels:
    collections: dict[str, dict[str, Doc]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # logical -> physical
    budget: Budget = field(default_factory=Budget)
    pause: bool = False  # yield to the loop before each call (interleaves concurrent engines)
    # write_newer as FerretDB's swap does it: the older documents deleted, then the new ones
    # inserted, a crash possible in between (replace_newer and append stay atomic).
    swaps: bool = False

    def collection(self, logical: str) -> dict[str, Doc]:
        return self.collections.setdefault(self.names.get(logical, logical), {})

    def renamed(self, names: Mapping[str, str]) -> MemoryReadModels:
        """The same data under other names (shares the collections and the budget)."""
        return MemoryReadModels(self.collections, dict(names), self.budget, self.pause, self.swaps)

    def crash_after(self, writes: int | None) -> None:
        """Let ``writes`` more writes through, then raise ``Crash`` (``None``: never)."""
        self.budget.writes_left = writes

    async def _step(self) -> None:
        if self.pause:
            await asyncio.sleep(0)

    async def find_ids(self, collection: str, ids: Collection[str]) -> dict[str, Doc]:
        await self._step()
        docs = self.collection(collection)
        return {i: copy.deepcopy(docs[i]) for i in ids if i in docs}

    async def find_in(self, collection: str, field: str, values: Collection[str]) -> list[Doc]:
        await self._step()
        wanted = set(values)
        return [copy.deepcopy(d) for d in self.collection(collection).values() if d.get(field) in wanted]

    async def first(
        self,
        collection: str,
        equals: Mapping[str, object],
        order: Sequence[tuple[str, int]],
        limit: int,
        positive: str | None = None,
    ) -> list[Doc]:
        await self._step()
        found = [
            d
            for d in self.collection(collection).values()
            if all(d.get(k) == v for k, v in equals.items())
            and (positive is None or (isinstance(d.get(positive), int) and d[positive] > 0))
        ]
        for name, direction in reversed(order):  # stable sorts, last key first
            found.sort(key=lambda d: _sortable(d.get(name)), reverse=direction < 0)
        return [copy.deepcopy(d) for d in found[:limit]]

    async def write_newer(self, collection: str, docs: Sequence[Doc], known: Mapping[str, int] | None = None) -> None:
        await self._step()
        self._spend()
        if self.swaps:
            target = self.collection(collection)
            for doc in docs:
                if doc["_id"] in target and target[doc["_id"]]["version"] < doc["version"]:
                    del target[doc["_id"]]
            self._spend()  # a crash here leaves them missing
        await self._replace(collection, docs)

    async def replace_newer(self, collection: str, docs: Sequence[Doc], known: Mapping[str, int] | None = None) -> None:
        await self._step()
        self._spend()
        await self._replace(collection, docs)

    async def _replace(self, collection: str, docs: Sequence[Doc]) -> None:
        target = self.collection(collection)
        for doc in docs:
            await self._step()  # each document on its own, as a bulk write applies them
            _storable(doc)
            stored = target.get(doc["_id"])
            if stored is None or stored["version"] < doc["version"]:
                target[doc["_id"]] = copy.deepcopy(doc)

    async def append(self, collection: str, docs: Sequence[Doc]) -> None:
        await self._step()
        self._spend()
        target = self.collection(collection)
        for doc in docs:
            await self._step()
            _storable(doc)
            target.setdefault(doc["_id"], copy.deepcopy(doc))

    async def delete_ids(self, collection: str, ids: Collection[str]) -> None:
        await self._step()
        self._spend()
        target = self.collection(collection)
        for i in ids:
            target.pop(i, None)

    async def older_ids(self, collection: str, equals: Mapping[str, object], field: str, below: int) -> list[str]:
        await self._step()
        return [
            i
            for i, d in self.collection(collection).items()
            if all(d.get(k) == v for k, v in equals.items()) and d[field] < below
        ]

    async def set_merchant_name(self, collection: str, ids: Collection[str], name: str, version: int) -> None:
        await self._step()
        self._spend()
        docs = self.collection(collection)
        for i in ids:
            if i in docs and docs[i]["merchant_version"] < version:
                docs[i].update(merchant_name=name, merchant_version=version)

    def refusal(self, doc: Doc) -> str | None:
        try:
            _storable(doc)
        except (ValueError, OverflowError) as exc:
            return f"unstorable: {exc}"
        return None

    def _spend(self) -> None:
        if self.budget.writes_left is None:
            return
        if self.budget.writes_left <= 0:
            raise Crash("simulated crash before a write")
        self.budget.writes_left -= 1


def _storable(value: Any, in_array: bool = False) -> None:
    """What the servers refuse, refused here too: FerretDB v1 stores no array directly in
    an array, BSON no integer beyond 64 bits."""
    if isinstance(value, dict):
        for item in value.values():
            _storable(item)
    elif isinstance(value, list | tuple):
        if in_array:
            raise ValueError("nested arrays are not supported")
        for item in value:
            _storable(item, True)
    elif isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise OverflowError("MongoDB can only handle up to 8-byte ints")


def _sortable(value: Any) -> tuple[int, Any]:
    """MongoDB's order across types, as far as read models need it: null first."""
    return (0, 0) if value is None else (1, value)


@dataclass
class MemoryEvents:
    """``ports.EventHistory`` over a list of stored events."""

    events: list[EventEnvelope] = field(default_factory=list)

    async def events_between(self, aggregate_id: str, after: int, before: int) -> list[EventEnvelope]:
        found = [e for e in self.events if e.aggregate_id == aggregate_id and after < e.aggregate_version < before]
        return sorted(found, key=lambda e: e.aggregate_version)
