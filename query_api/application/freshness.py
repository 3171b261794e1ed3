"""Read-your-writes: wait (bounded) until a read model reflects a given version.

The command API answers ``{"id", "version"}``; a client passes that version as
``min_version`` (or the ``X-Min-Version`` header). The read then bypasses the cache and
polls MongoDB until the document's ``version`` reaches it; if the projection has not
caught up within the wait bound, the answer is ``409 version_not_yet_visible`` with
``Retry-After`` (the client retries; nothing is wrong with its request).

A fresh read that found the version also *repairs* the caches
(``query_api.adapters.cache.repair``): the projector writes the read model first and
signals the invalidation right after, so for a moment the new version is in MongoDB while
caches still hold the old one. Bumping the epochs, and signalling the same invalidation
the projector is about to, closes that
window for everyone as soon as one client has seen the new version: from then on no read
of this process, and no L2 read of any process, returns the older data (other processes'
L1 drop it when the message reaches them, normally well under a millisecond later).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request

from shared.http.errors import ApiError

HEADER = "x-min-version"
MAX_VERSION = 2**53
_POSITIVE = re.compile(r"[1-9][0-9]{0,15}")  # ASCII only: str.isdigit() would accept "²"


def min_version(request: Request) -> int | None:
    """The version asked for, by ``min_version`` or ``X-Min-Version``; ``400
    invalid_parameter`` for any value that is not a positive integer of ASCII digits below
    2^53, and when both are sent with different values (neither silently wins)."""
    given: list[tuple[str, str]] = []
    if request.scope["query_string"]:  # (any spelling: min%5Fversion is min_version too)
        given += [("min_version", v) for v in request.query_params.getlist("min_version")]
    given += [("X-Min-Version", v) for v in request.headers.getlist(HEADER)]
    versions = {_version(name, raw) for name, raw in given}
    if len(versions) > 1:
        raise _invalid(given[0][0], "min_version and X-Min-Version disagree; send one of them")
    return versions.pop() if versions else None


def _version(name: str, raw: str) -> int:
    if not _POSITIVE.fullmatch(raw) or int(raw) >= MAX_VERSION:
        raise _invalid(name, f"{name} must be a positive integer below 2^53")
    return int(raw)


def _invalid(name: str, message: str) -> ApiError:
    return ApiError(400, "invalid_parameter", message, [{"field": name, "problem": "invalid", "message": message}])


async def wait_for_version(
    fetch: Callable[[], Awaitable[dict[str, Any] | None]], version: int, timeout: float
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.005
    while True:
        doc = await fetch()
        if doc is not None and doc.get("version", 0) >= version:
            return doc
        remaining = deadline - loop.time()
        if remaining <= 0:
            seen = doc.get("version") if doc else None
            raise ApiError(
                409,
                "version_not_yet_visible",
                f"The read model has version {seen} and not yet {version}; retry shortly.",
                headers={"Retry-After": str(max(1, math.ceil(timeout / 2)))},
            )
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.1)
