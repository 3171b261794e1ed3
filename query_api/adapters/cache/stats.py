"""Hit and miss counters per cache level."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


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
    read_ahead_pages: int = 0  # pages stored in L2 ahead of a cursor walk's requests
    broad_drops: int = 0  # precise changes that fell back to dropping every page of a tag

    def snapshot(self) -> dict[str, Any]:
        out = asdict(self)
        lookups = self.l1_hits + self.l1_misses
        out["hit_ratio"] = round((lookups - self.l3_loads) / lookups, 4) if lookups else None
        return out
