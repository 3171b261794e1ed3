"""L2: Redis, shared by every query API process, validated by generation.

Each entry records the generation it was loaded at (``gen:<collection>:<merchant>`` for a
query, the sum of the document's and ``id:*`` counters for a single document — both only
grow, so the sum changes whenever either does; all INCRemented by the projectors); one
``MGET`` fetches the entry and the current generation together, so a read is one round trip
and an entry from an older generation is a miss — even if the invalidation message was
lost. When Redis fails, L2 is skipped for ``retry_after`` seconds (no request waits on a
dead server) and then tried again.
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis

from shared.invalidation import ID_GENERATION_TTL

from query_api.adapters.cache import entry as entries
from query_api.adapters.cache.entry import Entry
from query_api.adapters.cache.epochs import Tag, generation_keys
from query_api.adapters.cache.stats import CacheStats

log = logging.getLogger(__name__)


class L2Cache:
    def __init__(
        self,
        redis: Redis,
        stats: CacheStats,
        *,
        prefix: str = "",
        compress_min_bytes: int = 1024,
        retry_after: float = 1.0,
    ) -> None:
        self._redis, self._stats, self._prefix = redis, stats, prefix
        self._compress_min_bytes = compress_min_bytes
        self._retry_after = retry_after
        self._down_until = 0.0

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, exc: Exception) -> None:
        if self.available:
            log.warning("L2 cache unavailable for %.1fs: %s", self._retry_after, exc)
        self._stats.l2_errors += 1
        self._down_until = time.monotonic() + self._retry_after

    def _key(self, key: str) -> str:
        return f"{self._prefix}qc:{key}"

    async def get(self, key: str, tag: Tag) -> tuple[int | None, Entry | None]:
        """(current generation, entry if valid). Generation None: Redis not usable."""
        if not self.available:
            return None, None
        try:
            *gens_raw, raw = await self._redis.mget(*(self._prefix + k for k in generation_keys(tag)), self._key(key))
        except Exception as exc:
            self._failed(exc)
            return None, None
        generation = sum(int(g) for g in gens_raw if g)
        loaded = entries.load(raw) if isinstance(raw, bytes) else None  # (a decoding client would give str)
        if loaded is None:
            return generation, None
        if loaded[0] != generation:
            self._stats.l2_invalidate()  # loaded before a change: found out now
            return generation, None
        return generation, loaded[1]

    async def put(self, key: str, generation: int, entry: Entry, ttl: float) -> None:
        if not self.available:
            return
        try:
            await self._redis.set(
                self._key(key),
                entries.dump(entry, generation, self._compress_min_bytes),
                px=int(min(ttl, ID_GENERATION_TTL / 2) * 1000),
            )
        except Exception as exc:
            self._failed(exc)
