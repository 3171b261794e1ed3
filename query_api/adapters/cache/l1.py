"""L1: a bounded in-process cache (cachetools TLRU: LRU eviction, a TTL per entry).

Entries are invalidated by epoch (projector messages), so their TTL can be long while the
subscriber listens; without it they live ``unsubscribed_ttl`` seconds at most. List pages
that know their bounds are indexed by tag, so a precise change drops just the pages it
affects (``drop_pages``).

**Stale-while-revalidate.** An entry put with ``stale_ok`` (the public catalogue's, see
``two_level``) that is invalidated — found stale at lookup or dropped by a precise change —
is kept aside, not forgotten: ``stale(key)`` hands it out for at most ``max_stale``
seconds counted from the last moment it was known valid (the last lookup that found it
valid, or its load), which is never later than the change. That is conservative: a page
read every few milliseconds is served stale for about ``max_stale`` after the change, a
page nobody read for longer than ``max_stale`` is not served stale at all. It is refused
too after a reset (messages may have been missed) and after a no-stale change
(``Epochs.stale_allowed``). The aside store is bounded like L1 (``maxsize``) and by time.

**Bounded by entries and by bytes.** At most ``maxsize`` entries and ``max_bytes`` of
``entry_bytes`` (its body and compressed forms, and what holds them); the least recently
used go first. An entry's size is counted when it is put: a coding compressed later for a
client that asks for it is inside that allowance. The bytes bound is what keeps the
process's memory flat: a list page is ~10x a product, and how many distinct pages are read
grows with cursor walks.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cachetools import TLRUCache, TTLCache

from query_api.adapters.cache.entry import Entry
from query_api.adapters.cache.epochs import Broad, Epoch, Epochs, Tag
from query_api.adapters.cache.stats import CacheStats
from query_api.adapters.encodings import GZIP


@dataclass(slots=True)
class Slot:
    entry: Entry
    tag: Tag
    epoch: Epoch | Broad  # every-change epoch (entries without bounds) or broad epoch (pages)
    ttl: float
    stale_ok: bool  # may be served stale once invalidated (stale-while-revalidate)
    valid_at: float  # monotonic: the last moment it was known valid (its load, a lookup)


def _expires(key: str, slot: Slot, now: float) -> float:
    return now + slot.ttl


# What an entry holds beside its body and compressed forms: the key, the Slot and Entry
# objects, the ETag, the LRU links (~1 KB, a product page); a list page's bounds add each
# id it shows (a string in a frozenset, ~230 B). Measured with tracemalloc on 2026-12-06:
# a product ~1.4 KB in all (450 B body), a 20-item list page ~16.3 KB (9.2 KB body, 1.5 KB
# gzip): ``entry_bytes`` counts 1.5 and 19.4 KB (tests/unit/test_l1_bounds.py).
ENTRY_OVERHEAD = 1024
PAGE_ID_BYTES = 230


def entry_bytes(slot: Slot) -> int:
    """The bytes an entry is counted for: its body, three times its gzip form (room for
    br and zstd, compressed later for a client that asks, no larger than gzip for JSON),
    and its overhead."""
    entry = slot.entry
    gzipped = entry.encoded.get(GZIP)
    ids = len(entry.page.ids) if entry.page is not None else 0
    return len(entry.body) + 3 * (len(gzipped) if gzipped else 0) + ENTRY_OVERHEAD + PAGE_ID_BYTES * ids


class L1Cache:
    def __init__(
        self,
        epochs: Epochs,
        maxsize: int,
        unsubscribed_ttl: float = 5.0,
        stats: CacheStats | None = None,
        max_stale: float = 0.0,
        max_bytes: int = 64 * 2**20,
    ) -> None:
        self._epochs = epochs
        self._stats = stats or CacheStats()
        self._maxsize = maxsize
        self._unsubscribed_ttl = unsubscribed_ttl
        # cachetools bounds one measure: bytes (getsizeof); the entries bound is kept in ``_store``.
        self._slots: TLRUCache[str, Slot] = TLRUCache(max_bytes, _expires, timer=time.monotonic, getsizeof=entry_bytes)
        self.max_stale = max_stale
        # Invalidated entries that may still be served stale (only with max_stale > 0).
        self._stale: TTLCache[str, Slot] = TTLCache(maxsize, max(max_stale, 0.001), timer=time.monotonic)
        self._pages: dict[Tag, set[str]] = {}  # tag -> keys of pages with bounds (may hold dead keys)

    def _valid(self, slot: Slot) -> bool:
        if slot.entry.page is not None:
            return self._epochs.current_broad(slot.tag) == slot.epoch
        return self._epochs.current(slot.tag) == slot.epoch

    def get(self, key: str) -> Entry | None:
        slot = self._slots.get(key)
        if slot is None:
            return None
        if not self._valid(slot):
            self._slots.pop(key, None)  # invalidated since it was loaded
            self._stats.l1_invalidate()
            self._keep_stale(key, slot)
            return None
        slot.valid_at = time.monotonic()
        return slot.entry

    def _keep_stale(self, key: str, slot: Slot) -> None:
        if slot.stale_ok and self.max_stale > 0:
            self._stale[key] = slot

    def stale(self, key: str) -> tuple[Entry, float] | None:
        """The invalidated entry of ``key`` and how long it has been stale at most (seconds),
        while it may still be served: within ``max_stale`` and allowed by the epochs."""
        slot = self._stale.get(key)
        if slot is None:
            return None
        age = time.monotonic() - slot.valid_at
        if age > self.max_stale or not self._epochs.stale_allowed(slot.tag, slot.epoch, slot.valid_at):
            self._stale.pop(key, None)
            return None
        return slot.entry, age

    def forget_stale(self, key: str) -> None:
        self._stale.pop(key, None)

    def put(
        self, key: str, entry: Entry, tag: Tag, epoch: Epoch, broad: Broad, ttl: float, stale_ok: bool = False
    ) -> None:
        """Cache ``entry``, loaded from the epochs ``epoch``/``broad`` of ``tag`` on — unless a
        change arrived while it was loading that may have made it stale. ``stale_ok``: once
        invalidated, it may be served stale (``stale``) while its reload runs."""
        if not self._epochs.listening:  # no invalidations arrive: keep it briefly only
            ttl = min(ttl, self._unsubscribed_ttl)
        now = time.monotonic()
        if entry.page is None:
            if self._epochs.current(tag) == epoch:
                self._store(key, Slot(entry, tag, epoch, ttl, stale_ok, now))
                self._stale.pop(key, None)
            return
        if self._epochs.current_broad(tag) != broad:
            return
        if self._epochs.current(tag) != epoch and not self._epochs.unaffected_since(tag, epoch, entry.page):
            return
        self._store(key, Slot(entry, tag, broad, ttl, stale_ok, now))
        self._stale.pop(key, None)
        keys = self._pages.setdefault(tag, set())
        keys.add(key)
        if len(keys) > self._maxsize or len(self._pages) > self._maxsize:
            self._forget_dead_pages()

    def _store(self, key: str, slot: Slot) -> None:
        if entry_bytes(slot) > self._slots.maxsize:
            self._slots.pop(key, None)  # larger than the whole cache: not kept (cachetools would raise)
            return
        self._slots[key] = slot  # evicts the least recently used past max_bytes
        while len(self._slots) > self._maxsize:
            self._slots.popitem()

    @property
    def bytes(self) -> int:
        """The bytes counted against ``max_bytes`` (``entry_bytes`` of every entry held)."""
        return int(self._slots.currsize)

    def _forget_dead_pages(self) -> None:
        """Keys evicted or expired meanwhile, and tags left without pages: the index stays
        within the cache's own bound (amortised: only when it grew past it)."""
        live = self._slots.keys()
        for tag in list(self._pages):
            keys = self._pages[tag]
            keys.intersection_update(live)
            if not keys:
                del self._pages[tag]

    def has_pages(self, tags: Iterable[Tag]) -> bool:
        return any(self._pages.get(tag) for tag in tags)

    def drop_pages(self, tags: Iterable[Tag], ids: set[str], docs: Sequence[dict[str, Any]] = ()) -> int:
        """Drop the pages under ``tags`` that show one of ``ids`` or where one of ``docs``
        (changed documents, as they are now) belongs. Returns how many were dropped."""
        dropped = 0
        for tag in tags:
            keys = self._pages.get(tag, set())
            for key in list(keys):
                slot = self._slots.get(key)
                if slot is None or slot.tag != tag or slot.entry.page is None:
                    keys.discard(key)
                    continue
                page = slot.entry.page
                if not ids.isdisjoint(page.ids) or any(page.affected_by(doc) for doc in docs):
                    self._slots.pop(key, None)
                    keys.discard(key)
                    dropped += 1
                    self._keep_stale(key, slot)
        self._stats.l1_invalidate(dropped)
        return dropped

    def clear(self) -> None:
        self._slots.expire()  # what expired on its own was not invalidated
        self._stats.l1_invalidate(len(self._slots))
        self._slots.clear()
        self._pages.clear()
        self._stale.clear()  # messages may have been missed: nothing is known to be recent

    def __len__(self) -> int:
        return len(self._slots)
