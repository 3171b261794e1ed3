"""Which declared index serves a query: a planner's first rule, applied to our index list.

An index can serve a filter when its leading key is constrained by it. Among those, the
best has the longest run of leading keys pinned by equality (``$in`` included; a partial
index's filter counts as pinned, as the full index FerretDB gets in its place has those
fields in its keys), then, right after that run, a range on the next key or the whole
sort in the index's order (or all reversed). ``_id`` is the ``_id_`` index, unique: a
pinned ``_id`` makes it the best whatever else the filter says. The best is
what a query "uses" when it is the only one with that score; ties mean any of them serves
and none is needed by that query alone.

What this cannot see (statistics, multikey bounds, index intersection) MongoDB's planner
may weigh differently; ``tests/integration/test_query_explain.py`` checks the real plans.
"""

from __future__ import annotations

from typing import Any

from shared.read_model_indexes import ASC, INDEXES, IndexSpec

ID_INDEX = "_id_"
Keys = tuple[tuple[str, int], ...]
Score = tuple[int, int]


def _pins(condition: Any) -> bool:
    """Equality, or ``$in``: one index range per value."""
    if isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition):
        return set(condition) == {"$in"}
    return True


def _ranges(condition: Any) -> bool:
    return isinstance(condition, dict) and bool(set(condition) & {"$gt", "$gte", "$lt", "$lte", "$regex"})


def constraints(filters: dict[str, Any]) -> dict[str, Any]:
    """Field -> condition for the top-level conjunction (``$and`` flattened; ``$or`` and
    ``$nin`` constrain nothing an index range could use)."""
    out: dict[str, Any] = {}
    for key, condition in filters.items():
        if key == "$and":
            for clause in condition:
                out.update(constraints(clause))
        elif not key.startswith("$"):
            out[key] = condition
    return out


def score(keys: Keys, filters: dict[str, Any], sort: Keys = ()) -> Score | None:
    """How well an index with ``keys`` serves the query; None when it cannot."""
    fields = constraints(filters)
    if not keys or keys[0][0] not in fields:
        return None
    pinned = 0
    while pinned < len(keys) and keys[pinned][0] in fields and _pins(fields[keys[pinned][0]]):
        pinned += 1
    rest = keys[pinned:]
    ranged = bool(rest) and rest[0][0] in fields and _ranges(fields[rest[0][0]])
    sorted_by = bool(sort) and _serves_sort(rest, sort)
    return pinned, int(ranged or sorted_by)


def _serves_sort(keys: Keys, sort: Keys) -> bool:
    head = keys[: len(sort)]
    if [f for f, _ in head] != [f for f, _ in sort]:
        return False
    same = all(d == s for (_, d), (_, s) in zip(head, sort, strict=True))
    reversed_ = all(d == -s for (_, d), (_, s) in zip(head, sort, strict=True))
    return same or reversed_


def _scored_keys(spec: IndexSpec) -> Keys:
    return spec.fallback_keys() if spec.partial else spec.keys


UNIQUE = (1_000, 1)  # a pinned _id names one document (or one per value): nothing beats it


def candidates(collection: str, filters: dict[str, Any], sort: Keys = ()) -> dict[str, Score]:
    """Every index of ``collection`` that can serve the query, with its score."""
    by_id = score((("_id", ASC),), filters, sort)
    scored = {ID_INDEX: UNIQUE if by_id and by_id[0] else by_id}
    for spec in INDEXES:
        if spec.collection == collection:
            if spec.partial and any(constraints(filters).get(f) != v for f, v in spec.partial.items()):
                continue  # a partial index serves only queries inside its filter
            scored[spec.name] = score(_scored_keys(spec), filters, sort)
    return {name: s for name, s in scored.items() if s is not None}


def best(collection: str, filters: dict[str, Any], sort: Keys = ()) -> set[str]:
    """The indexes with the highest score (one, or several tied)."""
    found = candidates(collection, filters, sort)
    if not found:
        return set()
    top = max(found.values())
    return {name for name, s in found.items() if s == top}


def serves_sort(spec: IndexSpec, filters: dict[str, Any], sort: Keys) -> bool:
    """Whether the index (as FerretDB builds it: partial filters in the keys) continues,
    after the keys the filter pins by equality, with the whole sort: a page read through it
    comes in order (the rest of the filter is checked on the way)."""
    keys, fields = _scored_keys(spec), constraints(filters)
    pinned = 0
    while pinned < len(keys) and keys[pinned][0] in fields and _pins(fields[keys[pinned][0]]):
        pinned += 1
    return _serves_sort(keys[pinned:], sort)
