"""What a cached list page covers, so a change drops only the pages it can affect.

A keyset page holds the items of a filter that lie, in its sort order, after ``lower``
(the cursor's position; none for a first page) up to ``upper`` (its last item, when more
follow; none for the last page). A changed document affects the page only if the page
holds it (its old values are on show), or if its new values match the filter and fall in
that range (it now belongs there). Anything this module cannot decide — an operator it does
not know, values of other types — counts as affecting: a needless reload, never a stale page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

Position = tuple[Any, str]  # (sort value, _id)


@dataclass(frozen=True, slots=True)
class PageBounds:
    ids: frozenset[str]
    filters: dict[str, Any]
    field: str
    direction: int  # 1 ascending, -1 descending
    lower: Position | None
    upper: Position | None

    def to_json(self) -> bytes:
        """For L2; datetimes tagged so they come back as datetimes, not strings."""
        return orjson.dumps(
            [sorted(self.ids), _tag(self.filters), self.field, self.direction, _tag(self.lower), _tag(self.upper)]
        )

    @classmethod
    def from_json(cls, raw: bytes) -> PageBounds:
        ids, filters, field, direction, lower, upper = _untag(orjson.loads(raw))
        return cls(
            frozenset(ids), filters, field, direction, tuple(lower) if lower else None, tuple(upper) if upper else None
        )

    def affected_by(self, doc: dict[str, Any]) -> bool:
        """Whether ``doc`` (a changed document's current state) now belongs in this page."""
        try:
            if not matches(self.filters, doc):
                return False
            position = (doc[self.field], doc["_id"])
            if self.direction < 0:  # descending: "after" means smaller
                after_lower = self.lower is None or position < self.lower
                before_upper = self.upper is None or position >= self.upper
            else:
                after_lower = self.lower is None or position > self.lower
                before_upper = self.upper is None or position <= self.upper
            return after_lower and before_upper
        except (KeyError, TypeError, ValueError, re.error):
            return True


@dataclass(frozen=True, slots=True)
class PageItems:
    """What a cached keyset page needs to show a changed item's new values without a reload:
    its items' ids and sort values in page order, and how an item is rendered. Kept only
    with the in-process copy of a page (a closure does not travel through Redis)."""

    ids: tuple[str, ...]
    sort_values: tuple[Any, ...]
    render: Callable[[dict[str, Any]], dict[str, Any]]


def patched(body: bytes, bounds: PageBounds, items: PageItems, docs: Mapping[str, dict[str, Any]]) -> bytes | None:
    """The body of the page ``body`` with each item whose changed document is in ``docs``
    (by id, as the document is now) rendered again — the body a reload would give — or
    None when a reload is needed: a changed item that left the filter, moved in the sort
    order (another sort value), or is no longer there. Items not in ``docs`` are kept as
    they are (the caller knows nothing else changed). ``has_next`` and ``next_cursor``
    follow from the ids and sort values, which are unchanged."""
    try:
        page = orjson.loads(body)
        data = page["data"]
        if len(data) != len(items.ids):
            return None
        for index, (doc_id, sort_value) in enumerate(zip(items.ids, items.sort_values, strict=True)):
            if doc_id not in docs:
                continue
            doc = docs[doc_id]
            value = doc.get(bounds.field)
            if type(value) is not type(sort_value) or value != sort_value or not matches(bounds.filters, doc):
                return None
            data[index] = items.render(doc)
        return orjson.dumps(page)
    except (KeyError, TypeError, ValueError, re.error):
        return None


_KNOWN = frozenset({"$gte", "$lte", "$gt", "$lt", "$in", "$ne", "$regex"})


def _compare(op: str, value: Any, operand: Any) -> bool:
    if op == "$gte":
        return bool(value >= operand)
    if op == "$lte":
        return bool(value <= operand)
    if op == "$gt":
        return bool(value > operand)
    if op == "$lt":
        return bool(value < operand)
    if op == "$in":
        return value in operand
    if op == "$ne":
        return bool(value != operand)
    if op == "$regex":
        return isinstance(value, str) and re.search(operand, value) is not None
    raise ValueError(op)  # unknown: the caller treats the page as affected


def matches(filters: dict[str, Any], doc: dict[str, Any]) -> bool:
    """Whether ``doc`` matches a MongoDB filter of the forms the list routes build."""
    for key, condition in filters.items():
        if key == "$and":
            if not all(matches(f, doc) for f in condition):
                return False
        elif key == "$or":
            if not any(matches(f, doc) for f in condition):
                return False
        elif key.startswith("$"):
            raise ValueError(key)
        elif "." in key:
            if not any(_condition_holds(condition, value) for value in _values_at(doc, key)):
                return False
        elif key not in doc:
            if _is_operators(condition) or condition is not None:
                return False  # a missing field equals null only (the routes never filter on null)
        elif not _condition_holds(condition, doc[key]):
            return False
    return True


def _is_operators(condition: Any) -> bool:
    """``{"$gte": 1, ...}`` (checked: an operator this module does not know is an error)."""
    if not (isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition)):
        return False
    if not _KNOWN.issuperset(condition):
        raise ValueError(condition)  # unknown: the caller treats the page as affected
    return True


def _condition_holds(condition: Any, value: Any) -> bool:
    if not _is_operators(condition):
        return bool(value == condition)
    return all(_compare(op, value, operand) for op, operand in condition.items())


def _values_at(doc: dict[str, Any], path: str) -> list[Any]:
    """The values a dotted path reaches, through arrays of documents (``lines.product_id``
    is every line's product id), as MongoDB matches them; a shape it does not expect is an
    error, so the page counts as affected."""
    values: list[Any] = [doc]
    for part in path.split("."):
        reached = []
        for value in values:
            for item in value if isinstance(value, list) else [value]:
                if not isinstance(item, dict):
                    raise ValueError(path)
                if part in item:
                    reached.append(item[part])
        values = reached
    return [v for value in values for v in (value if isinstance(value, list) else [value])]


def _tag(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$date": value.isoformat()}
    if isinstance(value, dict):
        return {k: _tag(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tag(v) for v in value]
    return value


def _untag(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "$date" in value:
            return datetime.fromisoformat(value["$date"])
        return {k: _untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untag(v) for v in value]
    return value
