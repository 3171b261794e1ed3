"""How many events the next batch of a stream may hold: about ``target`` seconds' worth.

A larger batch catches a backlog up faster (an aggregate touched by several of its events
is written once, a batch's reads serve more events), but a batch must end well within
Kafka's ``max.poll.interval.ms`` (5 min) or its member is dropped from the group and the
batch is delivered again. The cost of an event is not a constant — it grows with the read
models (docs/projections.md, "Catch-up": one batch of 20,000 outlived the 5 minutes on
issue 15's full seed) — so a fixed count is either timid or hazardous. ``BatchLimit`` is
told each batch's event count and wall time and sets the next limit from them:

- **growth**, only after a *full* batch (count == limit: the limit bound it) that was not
  slow: the next limit is ``target`` over the smoothed seconds per event (an EWMA), at most
  ``GROWTH`` times the current one — a cost that grows faster than the batch (a read
  whose time depends on how many keys it asks for) is met one doubling at a time;
- **shrink, at once**, after a *slow* batch (longer than ``target``), full or not: the
  next limit is what that batch's own rate does in ``target`` seconds, and the estimate
  restarts from that batch;
- a short batch that was not slow (live traffic: whatever had arrived) says nothing about
  a backlog's cost — its time is mostly the per-batch round trips — and changes nothing;
- a failed batch can only shrink the limit (if it was slow), never grow it;
- always within ``[floor, ceiling]``; it starts at ``START``, the fixed count it replaces
  (1,000: batches that size ran everywhere, and the first slow one cuts it at once), so a
  short catch-up or a benchmark round is not spent ramping up from the floor.

Pure: no clock, no I/O; the subscriber measures and applies (``projectors.entrypoints.batch_bound``).
"""

from __future__ import annotations

from dataclasses import dataclass

# The floor: even at a pathological cost a batch still moves the stream a little.
FLOOR = 100
# The first limit: the fixed count of before (PROJECTOR_BATCH_SIZE's old default).
START = 1000
# Growth per batch: with a cost quadratic in the batch size, a doubling takes 4x the
# time of a batch that was on target: 20 s at the default 5 s, far from the 5 minutes.
GROWTH = 2.0
# Weight of the newest full batch in the seconds-per-event estimate.
SMOOTHING = 0.5


@dataclass
class BatchLimit:
    target: float  # seconds a batch should take
    ceiling: int  # PROJECTOR_BATCH_SIZE: never more (memory, the fetch)
    floor: int = FLOOR
    limit: int = START
    seconds_per_event: float | None = None  # the smoothed estimate; None until a full batch

    def __post_init__(self) -> None:
        self.floor = min(self.floor, self.ceiling)
        self.limit = self._bounded(self.limit)

    def after(self, events: int, seconds: float) -> int:
        """The limit for the next batch, given this one's event count and wall time."""
        if events <= 0:
            return self.limit
        cost = seconds / events
        if seconds > self.target:
            return self._shrink(cost)
        if events >= self.limit:
            previous = self.seconds_per_event
            self.seconds_per_event = cost if previous is None else SMOOTHING * cost + (1 - SMOOTHING) * previous
            expected = self.target / max(self.seconds_per_event, 1e-9)
            self.limit = self._bounded(int(min(self.limit * GROWTH, max(self.limit, expected))))
        return self.limit

    def after_failure(self, events: int, seconds: float) -> int:
        """The limit after a batch that raised: a slow one shrinks it; nothing grows it."""
        if events > 0 and seconds > self.target:
            return self._shrink(seconds / events)
        return self.limit

    def _shrink(self, cost: float) -> int:
        self.seconds_per_event = cost
        self.limit = self._bounded(min(self.limit, int(self.target / cost)))
        return self.limit

    def _bounded(self, limit: int) -> int:
        return max(self.floor, min(self.ceiling, limit))
