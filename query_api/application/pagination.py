"""Cursor (keyset) and offset pagination.

A sort is one stored field plus ``_id`` as the unique tie-breaker, both in one direction,
so the order is total and stable. A cursor holds the last item's (value, id) and is signed
with HMAC-SHA256 together with the sort and a fingerprint of the filters: a client cannot
forge one, nor replay it against another query. The next page is the items strictly after
that position, so an insert or delete elsewhere never makes an item skip or repeat (the
sorted fields themselves do not change while a product lives: created_at, name, price
changes re-position one product — see docs/api.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from shared.http.errors import ApiError

ASC, DESC = 1, -1
MAX_OFFSET = 10_000  # offset pages stop here: deeper, a skip would read too much (cursors do not)


@dataclass(frozen=True)
class Sort:
    field: str
    direction: int

    @property
    def mongo(self) -> list[tuple[str, int]]:
        return [(self.field, self.direction), ("_id", self.direction)]

    def after(self, value: Any, last_id: str) -> dict[str, Any]:
        """The filter for items strictly after (value, last_id) in this order, in MongoDB's
        order whatever the field holds: later values of ``value``'s type class (comparisons
        are type-bracketed), the classes after it (``$type``; descending: before it, then
        null and missing, which sort first), and ties by ``_id``. Our read models hold one
        class per sort field, where the ``$type`` arm matches nothing; it keeps a walk exact
        if a document ever holds another (or none). Our FerretDB build pushes this exact
        shape down as one index range (docs/indexes.md, "Pages")."""
        field, op = self.field, "$gt" if self.direction == ASC else "$lt"
        rank = type_class(value)
        later = range(rank + 1, len(TYPE_CLASSES)) if self.direction == ASC else range(1, rank)
        arms: list[dict[str, Any]] = [{field: {op: value}}] if value is not None else []
        aliases = [alias for k in later for alias in TYPE_CLASSES[k]]
        if aliases:
            arms.append({field: {"$type": aliases}})
        if self.direction == DESC and rank > 0:
            arms.append({field: None})
        arms.append({field: value, "_id": {op: last_id}})
        return {"$or": arms}


# BSON type classes in MongoDB's comparison order, as ``$type`` aliases (0: null and missing).
TYPE_CLASSES: tuple[tuple[str, ...], ...] = (
    (),
    ("number",),
    ("string",),
    ("object",),
    ("array",),
    ("binData",),
    ("objectId",),
    ("bool",),
    ("date",),
    ("timestamp",),
    ("regex",),
)


def type_class(value: Any) -> int:
    """The position of ``value``'s class in ``TYPE_CLASSES`` (the types a cursor can hold)."""
    if value is None:
        return 0
    if isinstance(value, bool):  # before int: a bool is an int in Python
        return 7
    if isinstance(value, (int, float)):
        return 1
    if isinstance(value, str):
        return 2
    if isinstance(value, datetime):
        return 8
    raise ValueError(f"no cursor for a sort value of type {type(value).__name__}")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(filters: dict[str, Any]) -> str:
    return hashlib.blake2b(orjson.dumps(filters, default=str, option=orjson.OPT_SORT_KEYS), digest_size=8).hexdigest()


class CursorCodec:
    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:16]

    def encode(self, sort_name: str, filters_fp: str, value: Any, last_id: str) -> str:
        typed = ["d", value.isoformat()] if isinstance(value, datetime) else ["v", value]
        payload = orjson.dumps([sort_name, filters_fp, typed, last_id])
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def decode(self, cursor: str, sort_name: str, filters_fp: str) -> tuple[Any, str]:
        try:
            payload_text, signature_text = cursor.split(".")
            payload, signature = _unb64(payload_text), _unb64(signature_text)
        except (ValueError, TypeError):
            raise _invalid("The cursor is malformed.") from None
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise _invalid("The cursor is not one this API issued (signature mismatch).")
        cur_sort, cur_fp, position = _fields(payload)
        if cur_sort != sort_name or cur_fp != filters_fp:
            raise _invalid("The cursor belongs to another query; keep the same filters and sort.")
        return position


def _fields(payload: bytes) -> tuple[str, str, tuple[Any, str]]:
    """``[sort, filters, [kind, value], last_id]`` with a scalar value and a string id, or
    ``400``: a signed payload is still checked (the secret may leak), and a value that is
    an object would become an operator in the next page's filter."""
    try:
        cur_sort, cur_fp, (kind, value), last_id = orjson.loads(payload)
        if not (isinstance(cur_sort, str) and isinstance(cur_fp, str) and isinstance(last_id, str)):
            raise ValueError("not strings")
        if kind == "d" and isinstance(value, str):
            return cur_sort, cur_fp, (datetime.fromisoformat(value), last_id)
        if kind == "v" and (value is None or isinstance(value, (str, int, float, bool))):
            return cur_sort, cur_fp, (value, last_id)
        raise ValueError("not a position")
    except (ValueError, TypeError):  # orjson.JSONDecodeError is a ValueError
        raise _invalid("The cursor does not hold a position.") from None


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_cursor", message, [{"field": "cursor", "problem": "invalid", "message": message}])


@dataclass(frozen=True)
class PageRequest:
    limit: int
    cursor: str | None
    page: int | None
    sort_name: str

    @classmethod
    def from_params(
        cls, values: dict[str, Any], default_limit: int, default_sort: str, max_offset: int = MAX_OFFSET
    ) -> PageRequest:
        if values.get("cursor") is not None and values.get("page") is not None:
            raise ApiError(
                400,
                "invalid_parameter",
                "Use either `cursor` or `page`, not both.",
                [{"field": "page", "problem": "conflict", "message": "not with cursor"}],
            )
        limit = values.get("limit", default_limit)
        page = values.get("page")
        if page is not None and (page - 1) * limit > max_offset:
            raise ApiError(
                400,
                "invalid_parameter",
                f"Offset pages stop at item {max_offset}; use cursor pagination to go deeper.",
                [{"field": "page", "problem": "too_deep", "message": "offset too large"}],
            )
        return cls(limit, values.get("cursor"), page, values.get("sort", default_sort))
