"""Placed-but-unpaid orders expire: ``OrderExpired``, and their stock goes back.

An order still ``placed`` or ``confirmed`` (not paid) ``after`` seconds after it was placed
is ended like a cancel (``placement.end_order``): ``OrderExpired`` carries a ``Release``
intent, each line's units are given back, and the relay finishes a release a crash left
half done. The command id is ``expire:<order id>``, so several processes expiring one
order expire it once.

**Found through an index, only when there can be some.** Each ``OrderPlaced`` commit is
marked ``expiring`` when it is stored (``ExpiryPort``); the expirer reads the marked ones
older than ``after``, expires those still unpaid, and unmarks all it looked at — one load
per placed order, once, ``after`` seconds after its placement. It reads at a deadline, not
by a clock:

- once when the process starts: the oldest marked placement gives the first deadline;
- ``placed``: an order placed here moves the deadline to its own, without any operation;
- after a pass, the oldest placement still marked gives the next one.

So an idle command side costs nothing. Passes are at least ``interval`` apart, so a
steady flow of orders expires in batches. An order placed by another process that died
before its deadline is expired when any process passes (at its own deadline or start).

Failure modes: a pass that fails (MongoDB unavailable) is logged and tried again after
``interval``; an order that cannot be expired (paid or ended meanwhile) is unmarked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from shared.events import utc_now

from command_api.application.handlers import Services
from command_api.application.placement import end_order
from command_api.application.ports import Commit, DuplicateCommand, ExpiryPort
from command_api.application.repository import CommandContext
from command_api.domain.aggregate import InvalidState, NotFound

log = logging.getLogger(__name__)


class Expirer:
    def __init__(
        self, placements: ExpiryPort, svc: Services, *, after: float, interval: float = 1.0, batch: int = 100
    ) -> None:
        self._placements, self._svc = placements, svc
        self._after, self._interval, self._batch = timedelta(seconds=after), interval, batch
        self._deadline: datetime | None = None
        self._wake = asyncio.Event()
        self.passes = 0
        self.expired = 0

    def placed(self) -> None:
        """An order was placed in this process: its deadline, if it is the earliest."""
        deadline = utc_now() + self._after
        if self._deadline is None or deadline < self._deadline:
            self._deadline = deadline
            self._wake.set()

    async def run(self) -> None:
        await self._next_deadline()
        while True:
            self._wake.clear()
            delay = None if self._deadline is None else (self._deadline - utc_now()).total_seconds()
            if delay is None or delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                continue
            try:
                await self.run_once()
                await self._next_deadline()
            except Exception:
                log.exception("order expiry pass failed; again in %.1f s", self._interval)
            await asyncio.sleep(self._interval)

    async def _next_deadline(self) -> None:
        oldest = await self._placements.oldest_placement()
        self._deadline = None if oldest is None else oldest + self._after

    async def run_once(self) -> int:
        """Expire every unpaid order placed more than ``after`` ago; returns how many."""
        self.passes += 1
        expired = 0
        while True:
            placements = await self._placements.placed_before(utc_now() - self._after, self._batch)
            for placement in placements:
                expired += await self._expire(placement)
            await self._placements.looked_at([p.id for p in placements])
            if len(placements) < self._batch:
                break
        self.expired += expired
        return expired

    async def _expire(self, placement: Commit) -> int:
        order_id = placement.aggregate_id
        ctx = CommandContext(placement.merchant_id, f"expire:{order_id}", placement.correlation_id)
        waited = int((utc_now() - placement.committed_at).total_seconds())
        try:
            await end_order(self._svc, order_id, ctx, lambda order: order.expire(waited), "order_expired")
        except (InvalidState, NotFound, DuplicateCommand):
            return 0  # paid or ended meanwhile, or expired by another process
        log.info("order %s of merchant %s expired after %d s unpaid", order_id, placement.merchant_id, waited)
        return 1
