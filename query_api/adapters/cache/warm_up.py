"""Warm-up: what this process serves most is recorded in Redis, and replayed at start.

Each process counts the public reads it answers from its cache, by the tag that ends the
cached answer's life (a dict increment, no I/O); a background task adds the counts to the
hot-key record of ``shared.warmup`` every ``interval`` seconds — the record the warm-up
worker reads after an invalidation. A starting process replays the ``n`` hottest public
requests against itself, which fills its L1 (from L2 when another process has them
already) before traffic arrives. Reads that fail (a 404) are cached nowhere and not
counted; neither are the warm-up worker's own requests.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping

from redis.asyncio import Redis
from starlette.types import ASGIApp, Message, Scope

from shared import warmup

from query_api.adapters.cache.epochs import Tag

log = logging.getLogger(__name__)

PUBLIC_PREFIXES = ("/v1/products", "/v1/categories")
WARMUP_HEADER = warmup.WARMUP_HEADER.lower().encode()  # as ASGI spells header names


class HotKeys:
    def __init__(self, limit: int = 10_000) -> None:
        self.counts: Counter[tuple[Tag, str]] = Counter()
        self._limit = limit

    def seen(self, key: str, tag: Tag | None) -> None:
        """One hit on the public read ``key`` cached under ``tag`` (others are not recorded)."""
        if tag is None or not key.startswith(PUBLIC_PREFIXES):
            return
        self.counts[tag, key] += 1
        if len(self.counts) > self._limit:
            self.counts = Counter(dict(self.counts.most_common(self._limit // 10)))

    def take(self, keep: int = warmup.KEEP) -> warmup.Hits:
        """The hottest ``keep`` counted since the last call, by tag; the counts restart."""
        counts, self.counts = self.counts, Counter()
        hits: defaultdict[Tag, dict[str, int]] = defaultdict(dict)
        for (tag, key), n in counts.most_common(keep):
            hits[tag][key] = n
        return hits


async def flush(hot: HotKeys, redis: Redis, prefix: str) -> None:
    await warmup.record(redis, hot.take(), prefix)


async def flush_forever(hot: HotKeys, redis: Redis, prefix: str, interval: float = 10.0) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await flush(hot, redis, prefix)
        except Exception as exc:  # best effort: warm-up is an optimisation
            log.info("hot keys not recorded: %s", exc)


async def warm_up(app: ASGIApp, state: Mapping[str, object], redis: Redis, prefix: str, n: int) -> int:
    """Replay the ``n`` hottest public requests through ``app``; returns how many answered 200.

    Runs inside the lifespan, before the server takes traffic, so the requests carry the
    lifespan ``state`` themselves (the server adds it only to requests it receives).
    """
    try:
        targets = await warmup.hottest_paths(redis, n, prefix)
    except Exception as exc:
        log.info("no warm-up (Redis unavailable): %s", exc)
        return 0
    warmed = 0
    for target in targets:
        if target.startswith(PUBLIC_PREFIXES):
            try:
                warmed += await _get(app, state, target) == 200
            except Exception as exc:
                log.info("warm-up of %s failed: %s", target, exc)
    log.info("warmed %d of %d hot queries", warmed, len(targets))
    return warmed


async def _get(app: ASGIApp, state: Mapping[str, object], target: str) -> int:
    path, _, query = target.partition("?")
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"warm-up"), (WARMUP_HEADER, b"1")],  # not a hit: not counted as hot
        "client": ("127.0.0.1", 0),
        "server": ("warm-up", 80),
        "state": dict(state),
    }
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status
