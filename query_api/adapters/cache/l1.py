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

**Why a key missed.** Keys that leave L1 are remembered (key and reason only, at most
``maxsize`` of them, oldest forgotten first): ``expired`` (its TTL ran out), ``evicted``
(LRU, L1 was full) or ``invalidated`` (a change, found at lookup, dropped by a precise
change, or a reset). ``miss_cause(key)`` answers it once for the load that follows a miss;
a key not remembered is ``cold`` (never cached here, or forgotten since).

**Bounded by entries and by bytes.** At most ``maxsize`` entries and ``max_bytes`` of
``entry_bytes`` (its body and compressed forms, and what holds them); the least recently
used go first. An entry's size is counted when it is put: a coding compressed later for a
client that asks for it is inside that allowance. The bytes bound is what keeps the
process's memory flat: a list page is ~10x a product, and how many distinct pages are read
grows with cursor walks.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cachetools import TLRUCache, TTLCache

from query_api.adapters.cache.entry import Entry
from query_api.adapters.cache.epochs import Broad, Epoch, Epochs, PreciseChange, Tag
from query_api.adapters.cache.stats import CacheStats
from query_api.adapters.encodings import GZIP
from query_api.application import pages


@dataclass(slots=True)
class Slot:
    entry: Entry
    tag: Tag
    epoch: Epoch | Broad  # every-change epoch (entries without bounds) or broad epoch (pages)
    ttl: float
    stale_ok: bool  # may be served stale once invalidated (stale-while-revalidate)
    valid_at: float  # monotonic: the last moment it was known valid (its load, a lookup)
    born: float = 0.0  # monotonic: when ``ttl`` started (its load)


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


COLD, EXPIRED, EVICTED, INVALIDATED = "cold", "expired", "evicted", "invalidated"


class _Slots(TLRUCache[str, Slot]):
    """The TLRU cache, telling ``gone`` which keys left it on their own, and why."""

    def __init__(self, max_bytes: int, gone: OrderedDict[str, str], max_gone: int) -> None:
        # cachetools bounds one measure: bytes (getsizeof); the entries bound is kept in
        # ``L1Cache._store``, and ``gone`` is bounded by entries too (``max_gone``).
        super().__init__(max_bytes, _expires, timer=time.monotonic, getsizeof=entry_bytes)
        self._gone = gone
        self._max_gone = max_gone

    def left(self, key: str, reason: str) -> None:
        gone = self._gone
        gone[key] = reason
        gone.move_to_end(key)
        if len(gone) > self._max_gone:
            gone.popitem(last=False)

    def expire(self, time: float | None = None) -> list[tuple[str, Slot]]:
        expired = list(super().expire(time))
        for key, _ in expired:
            self.left(key, EXPIRED)
        return expired

    def popitem(self) -> tuple[str, Slot]:
        self.expire()  # (what expired is not counted as evicted)
        key, slot = super().popitem()
        self.left(key, EVICTED)
        return key, slot


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
        self._gone: OrderedDict[str, str] = OrderedDict()  # key -> why it left L1 (bounded, maxsize)
        self._slots = _Slots(max_bytes, self._gone, maxsize)
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
            self._slots.left(key, INVALIDATED)
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

    def miss_cause(self, key: str) -> str:
        """Why ``key`` is not in L1 (once: the answer is forgotten): ``expired``,
        ``evicted``, ``invalidated``, or ``cold`` when this process does not remember it."""
        if key not in self._slots:
            self._slots.expire()  # an entry past its TTL leaves only at the next expire()
        return self._gone.pop(key, COLD)

    def forget_stale(self, key: str) -> None:
        self._stale.pop(key, None)

    def put(
        self, key: str, entry: Entry, tag: Tag, epoch: Epoch, broad: Broad, ttl: float, stale_ok: bool = False
    ) -> bool:
        """Cache ``entry``, loaded from the epochs ``epoch``/``broad`` of ``tag`` on — unless a
        change arrived while it was loading that may have made it stale (then False, and the
        key's next miss counts as ``invalidated``). ``stale_ok``: once invalidated, it may be
        served stale (``stale``) while its reload runs."""
        if not self._epochs.listening:  # no invalidations arrive: keep it briefly only
            ttl = min(ttl, self._unsubscribed_ttl)
        now = time.monotonic()
        if entry.page is None:
            if self._epochs.current(tag) != epoch:
                self._slots.left(key, INVALIDATED)
                return False
            if not self._store(key, Slot(entry, tag, epoch, ttl, stale_ok, now, now)):
                return False
            self._stale.pop(key, None)
            return True
        if self._epochs.current_broad(tag) != broad or (
            self._epochs.current(tag) != epoch and not self._epochs.unaffected_since(tag, epoch, entry.page)
        ):
            self._slots.left(key, INVALIDATED)
            return False
        if not self._store(key, Slot(entry, tag, broad, ttl, stale_ok, now, now)):
            return False
        self._stale.pop(key, None)
        keys = self._pages.setdefault(tag, set())
        keys.add(key)
        if len(keys) > self._maxsize or len(self._pages) > self._maxsize:
            self._forget_dead_pages()
        return True

    def _store(self, key: str, slot: Slot) -> bool:
        """Keep ``slot`` under ``key``; False when it is larger than the whole cache."""
        if entry_bytes(slot) > self._slots.maxsize:
            self._slots.pop(key, None)  # larger than the whole cache: not kept (cachetools would raise)
            return False
        self._slots[key] = slot  # evicts the least recently used past max_bytes
        while len(self._slots) > self._maxsize:
            self._slots.popitem()
        return True

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

    def drop_pages(
        self,
        tags: Iterable[Tag],
        ids: set[str],
        docs: Sequence[dict[str, Any]] = (),
        patchable: list[tuple[str, Slot]] | None = None,
    ) -> int:
        """Drop the pages under ``tags`` that show one of ``ids`` or where one of ``docs``
        (changed documents, as they are now) belongs. Returns how many were dropped; the
        dropped pages that know their items are added to ``patchable`` (``patch_pages``)."""
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
                    self._slots.left(key, INVALIDATED)
                    keys.discard(key)
                    dropped += 1
                    self._keep_stale(key, slot)
                    if patchable is not None and slot.entry.items is not None:
                        patchable.append((key, slot))
        self._stats.l1_invalidate(dropped)
        return dropped

    def patch_pages(
        self, dropped: Sequence[tuple[str, Slot]], docs: Sequence[dict[str, Any]], change: PreciseChange
    ) -> int:
        """Put back the pages ``drop_pages`` dropped for ``change`` (they showed one of its
        documents), each showing the documents as read back (``docs``), when that is exactly
        what a reload would give: the change is still the last of the page's tag
        (``Epochs.only_change_since``), every changed item is still in the filter at the same
        sort position (``pages.patched``), nobody loaded the page meanwhile, and its TTL,
        counted from its load, has not run out. Returns how many were put back."""
        by_id = {doc["_id"]: doc for doc in docs}
        now = time.monotonic()
        patched = 0
        for key, slot in dropped:
            entry, bounds, items = slot.entry, slot.entry.page, slot.entry.items
            ttl = slot.ttl - (now - slot.born)
            if bounds is None or items is None or ttl <= 0 or key in self._slots:
                continue
            if not change.ids.isdisjoint(bounds.ids) and not (change.ids & bounds.ids) <= by_id.keys():
                continue  # a document it shows is gone (deleted, or not readable now)
            if not self._epochs.only_change_since(slot.tag, slot.epoch, change):  # type: ignore[arg-type]
                continue
            body = pages.patched(entry.body, bounds, items, by_id)
            if body is None:
                continue
            new = Entry.build(body, page=bounds)
            new.items, new.tag = items, entry.tag
            self._slots[key] = Slot(new, slot.tag, slot.epoch, ttl, slot.stale_ok, now, now)
            self._stale.pop(key, None)
            self._gone.pop(key, None)
            self._pages.setdefault(slot.tag, set()).add(key)
            patched += 1
        self._stats.pages_patched += patched
        return patched

    def clear(self) -> None:
        self._slots.expire()  # what expired on its own was not invalidated
        self._stats.l1_invalidate(len(self._slots))
        keys = list(self._slots)
        self._slots.clear()  # (by popitem: recorded as evicted, then corrected below)
        for key in keys:
            self._slots.left(key, INVALIDATED)
        self._pages.clear()
        self._stale.clear()  # messages may have been missed: nothing is known to be recent

    def __len__(self) -> int:
        return len(self._slots)
