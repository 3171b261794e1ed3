"""The swap writer (FerretDB on PostgreSQL) never sends an ``$in`` longer than our FerretDB
build pushes down (1,000 values): a longer one reads and filters the whole table in Go. A
rebuild's batch of 2,000 commits names more aggregates than that."""

from __future__ import annotations

from typing import Any

from projectors.adapters.bulk import IN_CHUNK, REV, swap_read

PUSHDOWN_LIMIT = 1000  # maxInPushdown in infra/ferretdb/patches/pg-top-level-equality-uses-gin-index.patch


class Cursor:
    def __init__(self, docs: list[dict]) -> None:
        self.docs = docs

    def __aiter__(self):
        return self._gen()

    async def _gen(self):
        for doc in self.docs:
            yield doc


class RecordingCollection:
    """Just enough of a collection for ``swap_read``, recording every filter it gets."""

    name = "states"

    def __init__(self, stored: list[dict]) -> None:
        self.docs = {d["_id"]: dict(d) for d in stored}
        self.filters: list[dict[str, Any]] = []

    def _matches(self, doc: dict, query: dict) -> bool:
        for field, cond in query.items():
            if isinstance(cond, dict) and "$in" in cond:
                if doc.get(field) not in cond["$in"]:
                    return False
            elif doc.get(field) != cond:
                return False
        return True

    def find(self, query: dict, projection: dict | None = None) -> Cursor:
        self.filters.append(query)
        return Cursor([d for d in self.docs.values() if self._matches(d, query)])

    async def delete_many(self, query: dict) -> None:
        self.filters.append(query)
        for key in [k for k, d in self.docs.items() if self._matches(d, query)]:
            del self.docs[key]

    async def insert_many(self, docs: list[dict], ordered: bool = False) -> None:
        for doc in docs:
            self.docs[doc["_id"]] = dict(doc)


def _in_lengths(filters: list[dict]) -> list[int]:
    return [len(cond["$in"]) for f in filters for cond in f.values() if isinstance(cond, dict) and "$in" in cond]


async def test_a_swap_of_2500_documents_sends_no_in_beyond_the_pushdown_limit():
    n = 2500
    stored = [{"_id": f"a{i}", "version": 1, REV: f"a{i}@1"} for i in range(n)]
    collection = RecordingCollection(stored)
    newer = [{"_id": f"a{i}", "version": 2} for i in range(n)] + [{"_id": "new", "version": 1}]
    assert await swap_read(collection, newer) == 0  # type: ignore[arg-type]
    lengths = _in_lengths(collection.filters)
    assert lengths and max(lengths) <= IN_CHUNK <= PUSHDOWN_LIMIT
    assert sum(1 for f in collection.filters if "_id" in f) >= n // IN_CHUNK * 2  # reads and deletes, chunked
    assert {d["version"] for d in collection.docs.values() if d["_id"] != "new"} == {2}
    assert len(collection.docs) == n + 1
