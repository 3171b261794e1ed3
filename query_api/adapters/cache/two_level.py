"""The two-level cache in front of MongoDB.

``get`` is the hot path: an L1 hit returns the prebuilt entry with no I/O at all. On a miss
``load`` runs once per (key, epoch) however many requests wait (single-flight): L2 by
generation, then the loader (MongoDB), then both levels are filled. The generation is read
*before* MongoDB, so an entry loaded while a projector was writing carries the older
generation and is already invalid; likewise L1 refuses an entry whose tag changed epoch
while it was loading.

TTLs come per kind of read (``Query``) and are scaled, per entry and level, by a random
factor in ``[1 - ttl_jitter, 1 + ttl_jitter]``: entries loaded together (a warm-up, the
burst after a deploy) then expire spread out instead of all at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from query_api.adapters.cache.entry import Entry
from query_api.adapters.cache.epochs import Epoch, Epochs, Tag
from query_api.adapters.cache.l1 import L1Cache
from query_api.adapters.cache.l2 import L2Cache
from query_api.adapters.cache.single_flight import SingleFlight
from query_api.adapters.cache.stats import CacheStats, kind_of
from query_api.adapters.cache.warm_up import HotKeys
from query_api.application.ports import Loaded

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Query:
    """What to load on a miss: a normalised key, the tag that invalidates it, TTLs, loader."""

    key: str
    tag: Tag
    l1_ttl: float
    l2_ttl: float
    loader: Callable[[], Awaitable[bytes | Loaded]]
    stale_ok: bool = False  # may be answered with its previous entry while it reloads


class TwoLevelCache:
    def __init__(
        self,
        l1: L1Cache,
        l2: L2Cache,
        epochs: Epochs,
        stats: CacheStats,
        ttl_jitter: float = 0.1,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.l1, self.l2, self.epochs, self.stats = l1, l2, epochs, stats
        self.ttl_jitter, self._rand = ttl_jitter, rand
        self._flights: SingleFlight[Entry] = SingleFlight()
        self._revalidating: dict[str, asyncio.Task[None]] = {}  # key -> its background reload
        self.hot = HotKeys()

    def get(self, key: str) -> Entry | None:
        entry = self.l1.get(key)
        if entry is None:
            self.stats.l1_miss()
        else:
            self.stats.l1_hit()
            self.hot.seen(key, entry.tag)
        return entry

    async def load(self, key: str, query: Query, *, hot: bool = True, cause: str | None = None) -> Entry:
        """The entry of a key ``get`` missed: from L2, or loaded once from MongoDB; then in L1.
        ``cause``: why it is loaded (``stats``); by default why L1 did not have it."""
        epoch, broad = self.epochs.current(query.tag), self.epochs.current_broad(query.tag)
        cause = cause or self.l1.miss_cause(key)
        entry, shared = await self._flights.run((query.key, epoch), lambda: self._load(query, epoch, cause, key))
        if shared:
            self.stats.shared_loads += 1
        else:
            self.stats.missed(cause)
        entry.tag = query.tag
        if hot:
            self.hot.seen(key, query.tag)
        # An L1 entry never outlives what L2 keeps: without invalidations (the projector could
        # not reach Redis) the per-kind L2 TTL is the staleness bound of both levels.
        kept = self.l1.put(
            key, entry, query.tag, epoch, broad, self.jittered(min(query.l1_ttl, query.l2_ttl)), query.stale_ok
        )
        if not kept and not shared:
            self.stats.loads_discarded += 1
        return entry

    async def answer(self, key: str, query: Query) -> tuple[Entry, float | None]:
        """The entry of a key ``get`` missed, and how stale it is (seconds; None: current).

        A ``stale_ok`` query whose previous entry may still be served gets it at once and
        its reload runs in the background; any other waits for ``load``."""
        if query.stale_ok:
            stale = self.l1.stale(key)
            if stale is not None:
                self.stats.stale_served += 1
                self._revalidate(key, query)
                self.hot.seen(key, query.tag)
                return stale
        return await self.load(key, query), None

    def _revalidate(self, key: str, query: Query) -> None:
        if key in self._revalidating:
            return
        self.stats.background_reloads += 1
        task = asyncio.create_task(self._reload(key, query))
        self._revalidating[key] = task
        task.add_done_callback(lambda _: self._revalidating.pop(key, None))

    async def _reload(self, key: str, query: Query) -> None:
        try:
            await self.load(key, query, hot=False, cause="stale_reload")
        except Exception as exc:  # its answer is now an error: readers must get it, not the old page
            self.l1.forget_stale(key)
            self.stats.background_failures += 1
            log.info("background reload of %s failed: %r", key, exc)

    async def stop(self) -> None:
        """Cancel the background reloads (shutdown: their clients are about to close)."""
        tasks = list(self._revalidating.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def jittered(self, ttl: float) -> float:
        return ttl * (1 - self.ttl_jitter + 2 * self.ttl_jitter * self._rand())

    async def refresh(self, key: str, query: Query) -> Entry:
        """A warm-up read (after a change): the key's entry is loaded again unless this
        process's L1 still holds it valid — a list page the change did not affect — which
        is then the answer, with no MongoDB load and not counted as a lookup (it is no
        client's read). Such a page's L2 copy stays out of date (its generation moved with
        the change) until a process that misses it loads it: under a stream of changes an
        L2 list page is outdated again within a second or two, and reloading every hot page
        on every change was a third of the query API's MongoDB loads (docs/workers.md).
        A load is counted as an L1 miss, not as a hit on the key."""
        entry = self.l1.get(key)
        if entry is not None:
            self.stats.warm_ups_from_l1 += 1
            return entry
        self.stats.l1_miss()
        return await self.load(key, query, hot=False, cause="warm_up")

    async def _load(self, query: Query, epoch: Epoch, cause: str, key: str) -> Entry:
        generation, entry = await self.l2.get(query.key, query.tag)
        if entry is not None:
            self.stats.l2_hit()
            return entry
        self.stats.l2_miss(skipped=generation is None)  # None: Redis unusable, straight to MongoDB
        self.stats.l3_load(cause, kind_of(key))
        loaded = await query.loader()
        if isinstance(loaded, bytes):
            loaded = Loaded(loaded)
        entry = Entry.build(loaded.body, page=loaded.page)
        entry.items = loaded.items
        if generation is not None:
            await self.l2.put(query.key, generation, entry, self.jittered(query.l2_ttl))
            for key, body, page in loaded.following:  # same generation: same moment's data
                await self.l2.put(key, generation, Entry.build(body, page=page), self.jittered(query.l2_ttl))
                self.stats.read_ahead_pages += 1
        return entry
