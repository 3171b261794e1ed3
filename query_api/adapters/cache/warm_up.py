"""Warm-up: the hottest public queries are remembered in Redis and replayed at start.

Each process counts the keys it serves (a dict increment, no I/O); a background task adds
the counts to a Redis sorted set every ``interval`` seconds. A starting process replays the
top ``n`` public requests against itself, which fills its L1 (from L2 when another process
has them already) before traffic arrives.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping

from redis.asyncio import Redis
from starlette.types import ASGIApp, Message, Scope

log = logging.getLogger(__name__)

PUBLIC_PREFIXES = ("/v1/products", "/v1/categories")


class HotKeys:
    def __init__(self, limit: int = 10_000) -> None:
        self.counts: Counter[str] = Counter()
        self._limit = limit

    def seen(self, key: str) -> None:
        self.counts[key] += 1
        if len(self.counts) > self._limit:
            self.counts = Counter(dict(self.counts.most_common(self._limit // 10)))

    def take(self) -> Counter[str]:
        counts, self.counts = self.counts, Counter()
        return counts


def zset_key(prefix: str) -> str:
    return f"{prefix}qc:hot"


async def flush(hot: HotKeys, redis: Redis, prefix: str, keep: int = 1000) -> None:
    counts = {k: n for k, n in hot.take().most_common(keep) if k.startswith(PUBLIC_PREFIXES)}
    if not counts:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for key, n in counts.items():
            pipe.zincrby(zset_key(prefix), n, key)
        pipe.zremrangebyrank(zset_key(prefix), 0, -keep - 1)  # keep only the top
        await pipe.execute()


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
        hottest = await redis.zrevrange(zset_key(prefix), 0, n - 1)
        targets = [t.decode() if isinstance(t, bytes) else str(t) for t in hottest]
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
        "headers": [(b"host", b"warm-up")],
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
