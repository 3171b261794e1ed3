"""Business metrics read from the domain events: orders placed (and their value), active
merchants, order processing time (placed → shipped), payment outcomes.

Counted by one consumer group (the workers' ``activity`` subscriber), so each event counts
once however many API processes there are. Processing time needs the placing time of the
order: kept for the most recent 100 000 orders in memory, so an order placed before this
process started is not timed (a restart loses no correctness, only some samples).
"""

from __future__ import annotations

import time
from datetime import datetime

from cachetools import LRUCache

from shared.events import EventEnvelope
from shared.observability import metrics

ACTIVE_WINDOW_SECONDS = 15 * 60


class BusinessMetrics:
    def __init__(self, active_window: float = ACTIVE_WINDOW_SECONDS) -> None:
        self._placed_at: LRUCache[str, datetime] = LRUCache(maxsize=100_000)
        self._last_seen: dict[str, float] = {}
        self._active_window = active_window
        self._next_expiry = 0.0

    def observe(self, event: EventEnvelope, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if event.type == "OrderPlaced":
            metrics.orders_placed.inc()
            currency, total = event.data.get("currency"), event.data.get("total")
            if isinstance(currency, str) and isinstance(total, int):
                metrics.order_value.labels(currency=currency).inc(total)
            self._placed_at[event.aggregate_id] = event.occurred_at
        elif event.type == "OrderShipped":
            placed = self._placed_at.pop(event.aggregate_id, None)
            if placed is not None:
                metrics.order_processing.observe(max(0.0, (event.occurred_at - placed).total_seconds()))
        elif event.type == "OrderPaid":
            metrics.payments.labels(outcome="succeeded").inc()
        elif event.type == "OrderPaymentFailed":
            metrics.payments.labels(outcome="failed").inc()
        self._last_seen[event.merchant_id] = now
        self._expire(now)
        metrics.active_merchants.set(len(self._last_seen))

    def _expire(self, now: float) -> None:
        if now < self._next_expiry:  # a sweep every 10 s at most: cheap per event
            return
        cutoff = now - self._active_window
        self._last_seen = {m: t for m, t in self._last_seen.items() if t >= cutoff}
        self._next_expiry = now + 10.0
