"""MongoDB's sort order and equality for the scalar values our read models hold: the
reference the cursor-walk tests compare the server's pages with.

Type classes compare first (null and missing < numbers < strings < ... < booleans <
dates); within a class, numbers by value whatever their BSON type (Python compares int and
float exactly), strings bytewise in UTF-8 (not by Unicode collation), the rest naturally.
A missing field sorts, and matches ``{f: None}``, as null.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId


def type_class(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):  # before int: a bool is an int in Python
        return 7
    if isinstance(value, (int, float)):
        return 1
    if isinstance(value, str):
        return 2
    if isinstance(value, ObjectId):
        return 6
    if isinstance(value, datetime):
        return 8
    raise TypeError(f"no reference order for {value!r}")


def bson_key(value: Any) -> tuple[Any, ...]:
    rank = type_class(value)
    if rank == 0:
        return (0,)
    if rank == 2:
        return (rank, value.encode())
    if rank == 6:
        return (rank, value.binary)
    return (rank, value)


def bson_equal(field_value: Any, value: Any) -> bool:
    """``{f: value}`` for a scalar: same class and equal, or an array holding one."""
    if isinstance(field_value, list):
        return any(bson_equal(item, value) for item in field_value)
    return bson_key(field_value) == bson_key(value)


def sort_ids(docs: list[dict[str, Any]], field: str, direction: int) -> list[Any]:
    """The documents' ids in MongoDB's order of (field, _id), both in ``direction``."""
    ordered = sorted(docs, key=lambda d: (bson_key(d.get(field)), bson_key(d["_id"])), reverse=direction < 0)
    return [d["_id"] for d in ordered]
