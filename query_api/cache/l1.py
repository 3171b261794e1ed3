"""L1: a bounded in-process cache (cachetools TLRU: LRU eviction, a TTL per entry).

Entries are invalidated by epoch (projector messages), so their TTL can be long while the
subscriber listens; without it they live ``unsubscribed_ttl`` seconds at most.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cachetools import TLRUCache

from query_api.cache.entry import Entry
from query_api.cache.epochs import Epochs, Tag


@dataclass(frozen=True, slots=True)
class Slot:
    entry: Entry
    tag: Tag
    epoch: tuple[int, int, int]
    ttl: float


def _expires(key: str, slot: Slot, now: float) -> float:
    return now + slot.ttl


class L1Cache:
    def __init__(self, epochs: Epochs, maxsize: int, unsubscribed_ttl: float = 5.0) -> None:
        self._epochs = epochs
        self._unsubscribed_ttl = unsubscribed_ttl
        self._slots: TLRUCache[str, Slot] = TLRUCache(maxsize, _expires, timer=time.monotonic)

    def get(self, key: str) -> Entry | None:
        slot = self._slots.get(key)
        if slot is None:
            return None
        if self._epochs.current(slot.tag) != slot.epoch:
            self._slots.pop(key, None)  # invalidated since it was loaded
            return None
        return slot.entry

    def put(self, key: str, entry: Entry, tag: Tag, epoch: tuple[int, int, int], ttl: float) -> None:
        if self._epochs.current(tag) == epoch:  # not if a change arrived while loading
            if not self._epochs.listening:  # no invalidations arrive: keep it briefly only
                ttl = min(ttl, self._unsubscribed_ttl)
            self._slots[key] = Slot(entry, tag, epoch, ttl)

    def clear(self) -> None:
        self._slots.clear()

    def __len__(self) -> int:
        return len(self._slots)
