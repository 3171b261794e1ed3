"""What a sole writer knows of the derived read models it writes, so it need not read them back.

A rebuild's replay is the only writer of its shadow collections. It keeps, per derived
key, every source's latest counter and the derived document as it last read or wrote
them, and reads only the keys it does not know yet: a rebuild then costs the states it
folds and what it writes, not a read-back of every touched counter and document.

Only for a sole writer: another writer's counters would be missing here and its deltas
lost when this one writes the key's next document. Given a ``Known``, the engine also
writes states and views by swap instead of in place (``engine._writer``): only right
where nobody reads the collections and a failure starts again from empty ones. The engine forgets everything when a
batch fails (a write that failed half-way leaves the store and this memory apart). The
live projector does not use it (a process owns every partition only until the next
rebalance; see docs/projections.md, "Known limits"). Bounded: the least recently used
keys are forgotten, and read again when touched.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import TypeVar

from projectors.application.ports import Doc

V = TypeVar("V")
LIMIT = 200_000  # keys per kind; a day's counters or a category's: a few kilobytes each


class Known:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        # (counters collection, key) -> source -> latest counter: every source of the key
        self._counters: OrderedDict[tuple[str, str], dict[str, Doc]] = OrderedDict()
        # (derived collection, key) -> the document as stored (None: none is)
        self._documents: OrderedDict[tuple[str, str], Doc | None] = OrderedDict()

    def clear(self) -> None:
        self._counters.clear()
        self._documents.clear()

    # -- counters -------------------------------------------------------------------------
    def counters(self, collection: str, keys: Iterable[str]) -> tuple[list[Doc], list[str]]:
        """Every source's latest counter of the known ``keys``, and the keys not known.
        Taken at once, before any read: a read's learning may forget other keys."""
        out: list[Doc] = []
        unknown = []
        for key in keys:
            by_source = self._counters.get((collection, key))
            if by_source is None:
                unknown.append(key)
            else:
                self._counters.move_to_end((collection, key))
                out += by_source.values()
        return out, unknown

    def learn_counters(self, collection: str, keys: Iterable[str], found: Iterable[Doc]) -> None:
        """What a read of every counter of ``keys`` found (a source not found has none)."""
        latest: dict[str, dict[str, Doc]] = {k: {} for k in keys}
        for counter in found:
            kept = latest[counter["key"]].get(counter["source"])
            if kept is None or kept["version"] < counter["version"]:
                latest[counter["key"]][counter["source"]] = counter
        for key, by_source in latest.items():
            self._counters[(collection, key)] = by_source
        self._trim(self._counters)

    def wrote_counters(self, collection: str, counters: Iterable[Doc]) -> None:
        for counter in counters:
            by_source = self._counters.get((collection, counter["key"]))
            if by_source is not None:
                by_source[counter["source"]] = counter

    # -- derived documents ----------------------------------------------------------------
    def documents(self, collection: str, keys: Iterable[str]) -> tuple[dict[str, Doc], list[str]]:
        """The known ``keys``' documents (those that exist), and the keys not known."""
        out: dict[str, Doc] = {}
        unknown = []
        for key in keys:
            if (collection, key) not in self._documents:
                unknown.append(key)
                continue
            self._documents.move_to_end((collection, key))
            doc = self._documents[(collection, key)]
            if doc is not None:
                out[key] = doc
        return out, unknown

    def learn_documents(self, collection: str, keys: Iterable[str], found: dict[str, Doc]) -> None:
        for key in keys:
            self._documents[(collection, key)] = found.get(key)
        self._trim(self._documents)

    def wrote_documents(self, collection: str, docs: Iterable[Doc]) -> None:
        for doc in docs:
            self._documents[(collection, doc["_id"])] = doc
        self._trim(self._documents)

    def _trim(self, entries: OrderedDict[tuple[str, str], V]) -> None:
        while len(entries) > self.limit:
            entries.popitem(last=False)
