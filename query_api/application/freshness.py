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
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request

from shared.http.errors import ApiError

HEADER = "x-min-version"


def min_version(request: Request) -> int | None:
    raw = None
    if b"min_version" in request.scope["query_string"]:  # parse the query only when needed
        raw = request.query_params.get("min_version")
    raw = raw or request.headers.get(HEADER)
    if raw is None:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 2**53:
        raise ApiError(
            400,
            "invalid_parameter",
            "min_version must be a positive integer.",
            [{"field": "min_version", "problem": "invalid", "message": "positive integer"}],
        )
    return int(raw)


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
