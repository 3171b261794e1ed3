"""Query parameters: declared once, used to validate requests and to write the OpenAPI doc.

Every problem is a 400 ``invalid_parameter`` naming the fields; an unknown parameter is an
error too (a typo must not silently return everything, nor fill the cache with junk keys).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from starlette.datastructures import QueryParams

from shared.http.errors import ApiError

_BOOLS = {"true": True, "1": True, "false": False, "0": False}


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # string | integer | boolean | enum | enums (comma-separated) | datetime | date | fields
    description: str
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    max_length: int = 200
    pattern: str | None = None

    def parse(self, raw: str) -> Any:
        if self.kind == "integer":
            if not re.fullmatch(r"-?[0-9]{1,18}", raw):  # ASCII: \d (and int()) take other digits
                raise ValueError("must be an integer")
            value = int(raw)
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"must be at least {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                raise ValueError(f"must be at most {self.maximum}")
            return value
        if self.kind == "boolean":
            if raw.lower() not in _BOOLS:
                raise ValueError("must be true or false")
            return _BOOLS[raw.lower()]
        if self.kind == "enum":
            if raw not in self.choices:
                raise ValueError(f"must be one of {', '.join(self.choices)}")
            return raw
        if self.kind == "datetime":
            return _datetime(raw)
        if self.kind == "date":
            try:
                return date.fromisoformat(raw)
            except ValueError:
                raise ValueError("must be a date, YYYY-MM-DD") from None
        if self.kind == "fields":
            return self._names(raw, "field")
        if self.kind == "enums":  # several values, in a canonical order: one cache key per set
            return tuple(sorted(self._names(raw, "value")))
        if not raw or len(raw) > self.max_length:
            raise ValueError(f"must be 1 to {self.max_length} characters")
        if self.pattern and not re.fullmatch(self.pattern, raw):
            raise ValueError(f"must match {self.pattern}")
        return raw

    def _names(self, raw: str, what: str) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
        unknown = [n for n in names if n not in self.choices]
        if unknown or not names:
            raise ValueError(
                f"unknown {what}(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(self.choices)}"
            )
        return names


def _datetime(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ValueError("must be an ISO-8601 date-time, e.g. 2026-01-31T12:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ParamSet:
    params: tuple[Param, ...]
    by_name: dict[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in self.params})

    def parse(self, query: QueryParams) -> dict[str, Any]:
        values: dict[str, Any] = {}
        problems = []
        for name, raw in query.multi_items():
            param = self.by_name.get(name)
            if param is None:
                problems.append(
                    {
                        "field": name,
                        "problem": "unknown_parameter",
                        "message": f"unknown parameter; known: {', '.join(self.by_name)}",
                    }
                )
                continue
            try:
                values[name] = param.parse(raw)
            except ValueError as exc:
                problems.append({"field": name, "problem": "invalid", "message": str(exc)})
        if problems:
            raise ApiError(400, "invalid_parameter", "Some query parameters are not valid.", problems)
        return values


def page_params(max_limit: int, fields: tuple[str, ...], sorts: tuple[str, ...]) -> tuple[Param, ...]:
    return (
        Param("sort", "enum", "Sort order.", choices=sorts),
        Param("limit", "integer", f"Items per page (1 to {max_limit}).", minimum=1, maximum=max_limit),
        Param("cursor", "string", "Opaque cursor from `next_cursor` of the previous page.", max_length=500),
        Param(
            "page",
            "integer",
            "Offset pagination: the page number (1-based); answers carry `total` and `has_next`. Not with `cursor`.",
            minimum=1,
            maximum=10_000,
        ),
        Param("fields", "fields", "Comma-separated fields to return (e.g. `id,name,price`).", choices=fields),
    )
