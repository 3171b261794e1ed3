"""The outbox relay: publishes what the publisher did not, finishes what crashes left.

A pass reads the unpublished commits older than the grace through the outbox index,
settles those that carry an intent (``settlement``), and publishes them, each aggregate's
in version order: an aggregate's commits after one that cannot be settled yet (a
placement still undecided) wait with it.

**Nothing to do costs nothing.** Passes are not timed by a clock but by work:

- one pass when the process starts (what a crashed process left behind);
- while commands arrive (``nudge``: every append, every failed publication), at most one
  pass per ``interval`` — leftovers of a crashed peer are found while the system is used;
- at the deadline of what it saw and left: an undecided placement's TTL, or the end of
  the grace of a commit too young to take yet;
- every ``interval`` while publication is degraded (Kafka down), until a pass finds nothing.

**Poison is parked, not retried for everyone.** A commit Kafka refuses because of itself
(``PublisherPort.publish`` says which) parks its aggregate (``ParkingPort``: a log line
at error level and ``merchant_relay_parked_aggregates_total``): its later commits wait,
every other aggregate flows. A pass reads the parked aggregates first, skips their
commits, and tells the publisher (``hold``) so none overtakes on the immediate path.
``merchant parked list|retry`` shows them and lets them be tried again.

With no command arriving, a relay issues no MongoDB operation at all. The price: a
process that died leaving unpublished commits in an idle system is caught up when a
process starts or the next command arrives anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from bson import ObjectId

from shared.events import utc_now
from shared.observability import metrics

from command_api.application.ports import Commit, OutboxPort, Parked, ParkingPort, PublisherPort
from command_api.application.settlement import Settled, Settlement

log = logging.getLogger(__name__)


class Relay:
    def __init__(
        self,
        outbox: OutboxPort,
        publisher: PublisherPort,
        settlement: Settlement,
        parking: ParkingPort,
        *,
        interval: float = 1.0,
        grace: float = 2.0,
    ) -> None:
        self._outbox, self._publisher, self._settlement, self._parking = outbox, publisher, settlement, parking
        self._interval, self._grace = interval, timedelta(seconds=grace)
        self._nudged = asyncio.Event()
        self._deadline: datetime | None = None
        self.passes = 0

    def nudge(self) -> None:
        """Something happened (an append, a failed publication): a pass within ``interval``."""
        self._nudged.set()

    async def run_once(self) -> int:
        """One pass; returns how many commits it published."""
        self.passes += 1
        now = utc_now()
        grace = timedelta(0) if self._publisher.degraded else self._grace
        parked = {p.aggregate_id for p in await self._parking.parked()}
        self._publisher.hold(parked)
        # What the publisher has in hand is left out before it is decoded: a slow publisher is no crash.
        unpublished = await self._outbox.unpublished(older_than=now, skip=sorted(parked), leave=self._publisher.in_hand)
        if not unpublished:
            self._deadline = None
            self._publisher.caught_up()
            return 0
        # Younger than the grace: perhaps still being published by a live process; come
        # back when they are not (what a relay that just started finds, for one).
        young = [c.committed_at + grace for c in unpublished if c.committed_at > now - grace]
        pending = [c for c in unpublished if c.committed_at <= now - grace]
        settled = await self._settlement.settle([c for c in pending if not c.settled])
        self._deadline = min([*young, *([settled.next_deadline] if settled.next_deadline else [])], default=None)
        if not pending:
            return 0
        ready = in_version_order(pending, settled)
        refused = await self._publisher.publish(ready, settle=[c.id for c in ready if c.id in settled.ids])
        if not refused:
            return len(ready)
        await self._park([c for c in ready if c.id in refused], refused, parked)
        return sum(c.aggregate_id not in parked for c in ready)  # a refused commit's later ones were not sent

    async def _park(self, commits: list[Commit], reasons: dict[ObjectId, str], parked: set[str]) -> None:
        """Kafka refuses these commits themselves: their aggregates wait (``merchant parked``), the others flow."""
        for commit in commits:
            await self._parking.park(
                Parked(commit.aggregate_id, commit.merchant_id, commit.id, commit.version, reasons[commit.id])
            )
            parked.add(commit.aggregate_id)
            metrics.relay_parked.inc()
            log.error(
                "parked %s %s of merchant %s at version %d: Kafka refuses commit %s (%s); "
                "its later commits wait — `merchant parked list|retry`",
                commit.aggregate_type,
                commit.aggregate_id,
                commit.merchant_id,
                commit.version,
                commit.id,
                reasons[commit.id],
            )
        self._publisher.hold(parked)

    async def run_forever(self) -> None:
        while True:
            try:
                relayed = await self.run_once()
                if relayed:
                    log.info("relay published %d commit(s)", relayed)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next pass retries
                log.warning("relay pass failed: %s", exc)
                self.nudge()
            await self._until_next_pass()

    async def _until_next_pass(self) -> None:
        if self._publisher.degraded:
            await asyncio.sleep(self._interval)
            return
        timeout = None if self._deadline is None else max(0.0, (self._deadline - utc_now()).total_seconds())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._nudged.wait()
        self._nudged.clear()
        await asyncio.sleep(self._interval)


def in_version_order(pending: list[Commit], settled: Settled) -> list[Commit]:
    """The commits to publish now: each aggregate's in version order, up to its first
    commit whose intent is not settled."""
    commits = sorted([*pending, *settled.appended], key=lambda c: (c.aggregate_id, c.version))
    blocked: set[str] = set()
    ready = []
    for commit in commits:
        if commit.aggregate_id in blocked:
            continue
        if not commit.settled and commit.id not in settled.ids:
            blocked.add(commit.aggregate_id)
            continue
        ready.append(commit)
    return ready
