"""Hit and miss counters per cache level: ``/health/cache`` and the Prometheus counters.

Every cache event is counted once, here, into both this process's numbers (what
``/health/cache`` answers) and the Prometheus counters of ``shared.observability.metrics``
(what ``/metrics`` answers), so the two agree by construction:

=========================================  ==========================================
``/metrics``                               ``/health/cache``
=========================================  ==========================================
``cache_hits_total{level="l1"}``           ``l1_hits``
``cache_misses_total{level="l1"}``         ``l1_misses``
``cache_hits_total{level="l2"}``           ``l2_hits``
``cache_misses_total{level="l2"}``         ``l2_misses + l2_skipped``
``cache_hits_total{level="l3"}``           ``l3_loads`` (the read model answers every miss)
``cache_invalidations_total{level="l1"}``  ``l1_invalidated``
``cache_invalidations_total{level="l2"}``  ``l2_invalidated``
=========================================  ==========================================

Both are per process. With several processes (``--workers N``, or several machines)
``/health/cache`` answers for the one process that took the request, while Prometheus sums
the processes (one multi-process ``/metrics`` per server, or ``sum()`` over the scraped
targets): the sum of the processes' ``/health/cache`` equals the summed counters.

Invalidation is lazy (an epoch or a generation moves; entries are not visited), so an
invalidated entry is counted when it is found out: an L1 entry found stale at lookup,
dropped by a precise change, or cleared when the subscriber (re)connects; an L2 entry
found at an older generation.

The hit ratio is over every cacheable read that arrived, **shed ones included**: a read
refused by load shedding (``shed``) was not answered from the cache, so it counts as a
lookup that missed. ``hit_ratio = (lookups - l3_loads - shed) / lookups`` with
``lookups = l1_hits + l1_misses + shed`` (``hit_ratio`` below, also applied to differences
of two samples by the load tests).

**Served stale** (stale-while-revalidate, ``two_level``): a read answered at once with an
invalidated entry while its reload runs is counted as an L1 miss (L1 did not hold a valid
entry) and as ``stale_served``; the reload is one ``background_reloads`` and, like any
load, one ``l2_hits`` or ``l3_loads``. So the hit ratio still counts MongoDB loads, and a
stale serve is a hit for latency (no wait) but is reported apart: ``stale_ratio =
stale_served / lookups``.

**Why reads missed** (``loads_by_cause``, ``loads_by_kind``): every MongoDB load (each
``l3_loads``) is counted once more by why L1 did not have the key — ``cold``, ``expired``,
``evicted``, ``invalidated`` (``query_api.adapters.cache.l1``), ``stale_reload`` (the
background reload of a stale-served key), ``refresh_ahead`` / ``invalidation_reload``
(``two_level``'s background refreshes), ``warm_up`` (the warm-up worker's reads) — and by
kind of read (``product``, ``list``, ``categories``, ``merchant``, ``other``; ``kind_of``).
``misses_by_cause`` counts the same for every L1 miss that went on to a load, L2 hits
included. They sum to ``l3_loads``; a load whose answer was not kept in L1 because a change
arrived while it ran is counted in ``loads_discarded`` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from prometheus_client import Counter

from shared.observability import metrics


def _child(counter: Counter, level: str) -> Counter:
    return counter.labels(level=level)


@dataclass
class PrometheusCounters:
    """The labelled children, resolved once (``labels()`` costs a dict lookup and a lock)."""

    l1_hits: Counter = field(default_factory=lambda: _child(metrics.cache_hits, "l1"))
    l1_misses: Counter = field(default_factory=lambda: _child(metrics.cache_misses, "l1"))
    l2_hits: Counter = field(default_factory=lambda: _child(metrics.cache_hits, "l2"))
    l2_misses: Counter = field(default_factory=lambda: _child(metrics.cache_misses, "l2"))
    l3_hits: Counter = field(default_factory=lambda: _child(metrics.cache_hits, "l3"))
    l1_invalidations: Counter = field(default_factory=lambda: _child(metrics.cache_invalidations, "l1"))
    l2_invalidations: Counter = field(default_factory=lambda: _child(metrics.cache_invalidations, "l2"))


@dataclass
class CacheStats:
    l1_hits: int = 0
    l1_misses: int = 0
    l2_hits: int = 0
    l2_misses: int = 0
    l2_errors: int = 0
    l2_skipped: int = 0  # misses while Redis was unusable
    l3_loads: int = 0
    shared_loads: int = 0  # requests that waited on another request's load (single-flight)
    pages_dropped: int = 0  # L1 list pages a precise change affected (the others stayed)
    pages_patched: int = 0  # of those, put back showing the changed items (no reload: ``l1``)
    read_ahead_pages: int = 0  # pages stored in L2 ahead of a cursor walk's requests
    broad_drops: int = 0  # precise changes that fell back to dropping every page of a tag
    l1_invalidated: int = 0  # L1 entries found stale, dropped by a precise change, or cleared
    l2_invalidated: int = 0  # L2 entries found at an older generation
    shed: int = 0  # cacheable reads refused by load shedding before any cache answered
    stale_served: int = 0  # reads answered at once with an invalidated entry while it reloaded
    background_reloads: int = 0  # reloads started for a stale-served key (one per key at a time)
    background_failures: int = 0  # of those, the ones that failed (the stale entry is then dropped)
    misses_by_cause: dict[str, int] = field(default_factory=dict)  # loads started (L2 hits included), by cause
    loads_by_cause: dict[str, int] = field(default_factory=dict)  # MongoDB loads by why L1 missed
    loads_by_kind: dict[str, int] = field(default_factory=dict)  # MongoDB loads by kind of read
    loads_discarded: int = 0  # loads L1 refused to keep (a change arrived while they ran)
    warm_ups_from_l1: int = 0  # warm-up reads answered by a still-valid L1 entry (no load, no lookup)
    _counters: PrometheusCounters = field(default_factory=PrometheusCounters, repr=False, compare=False)

    def l1_hit(self) -> None:
        self.l1_hits += 1
        self._counters.l1_hits.inc()

    def l1_miss(self) -> None:
        self.l1_misses += 1
        self._counters.l1_misses.inc()

    def l2_hit(self) -> None:
        self.l2_hits += 1
        self._counters.l2_hits.inc()

    def l2_miss(self, *, skipped: bool = False) -> None:
        """A miss at L2: the entry is absent or stale, or Redis is unusable (``skipped``)."""
        if skipped:
            self.l2_skipped += 1
        else:
            self.l2_misses += 1
        self._counters.l2_misses.inc()

    def l3_load(self, cause: str = "cold", kind: str = "other") -> None:
        self.l3_loads += 1
        self._counters.l3_hits.inc()
        self.loads_by_cause[cause] = self.loads_by_cause.get(cause, 0) + 1
        self.loads_by_kind[kind] = self.loads_by_kind.get(kind, 0) + 1

    def missed(self, cause: str) -> None:
        self.misses_by_cause[cause] = self.misses_by_cause.get(cause, 0) + 1

    def l1_invalidate(self, entries: int = 1) -> None:
        if entries:
            self.l1_invalidated += entries
            self._counters.l1_invalidations.inc(entries)

    def l2_invalidate(self) -> None:
        self.l2_invalidated += 1
        self._counters.l2_invalidations.inc()

    def shed_read(self) -> None:
        self.shed += 1

    def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
        for name in ("misses_by_cause", "loads_by_cause", "loads_by_kind"):
            out[name] = dict(out[name])
        out["lookups"] = lookups(out)
        out["hit_ratio"] = hit_ratio(out)
        out["stale_ratio"] = stale_ratio(out)
        return out


def kind_of(key: str) -> str:
    """The kind of read of an L1 key (``endpoints.common.raw_key``: the path as sent; a
    merchant's own reads are prefixed ``m:``)."""
    if key.startswith("m:"):
        return "merchant"
    if key.startswith("/v1/products/"):
        return "product"
    if key.startswith("/v1/products"):
        return "list"
    if key.startswith("/v1/categories"):
        return "categories"
    return "other"


def lookups(counts: Mapping[str, int]) -> int:
    """Every cacheable read counted once: answered by L1, missed L1, or shed before a lookup."""
    return counts["l1_hits"] + counts["l1_misses"] + counts.get("shed", 0)


def hit_ratio(counts: Mapping[str, int]) -> float | None:
    """Reads answered from L1 or L2 over all cacheable reads, shed ones included (a shed read
    was not answered from the cache); None before the first read."""
    total = lookups(counts)
    if not total:
        return None
    return round((total - counts["l3_loads"] - counts.get("shed", 0)) / total, 4)


def stale_ratio(counts: Mapping[str, int]) -> float | None:
    """Reads answered with a stale entry (while it reloaded) over all cacheable reads."""
    total = lookups(counts)
    if not total:
        return None
    return round(counts.get("stale_served", 0) / total, 4)
