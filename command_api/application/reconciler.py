"""The reservation reconciler: finishes what a crashed or slow placement left behind.

Runs as a task in every command API process (and in ``merchant serve outbox-relay``).
Every step it takes is a conditional state change on the reservation record, so
several reconcilers, and the request that is still running, never both act.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from command_api.application.placement import release, roll_forward
from command_api.application.ports import ReservationsPort
from command_api.application.repository import Repository
from command_api.domain.order import Order

log = logging.getLogger(__name__)


class Reconciler:
    def __init__(self, repo: Repository, reservations: ReservationsPort, *, ttl: float, grace: float) -> None:
        """``ttl``: how long a placement may hold stock before it is rolled back (longer
        than any request may run); ``grace``: how long a decided step may stay unfinished."""
        self._repo, self._reservations = repo, reservations
        self._ttl, self._grace = timedelta(seconds=ttl), timedelta(seconds=grace)

    async def run_once(self) -> int:
        """One pass; returns how many records it moved on."""
        done = 0
        for record in await self._reservations.stale("reserving", self._ttl):
            # Rolled back: the placement never decided. Its request has timed out by now.
            if await release(record, "reservation_expired", self._repo, self._reservations, from_state="reserving"):
                log.warning("released expired reservation of order %s", record["_id"])
                done += 1
        for record in await self._reservations.stale("placing", self._grace):
            await roll_forward(record, self._repo, self._reservations)  # decided: finish it
            log.warning("completed placement of order %s", record["_id"])
            done += 1
        for record in await self._reservations.stale("releasing", self._grace):
            done += await self._finish_release(record)
        return done

    async def _finish_release(self, record: dict) -> int:
        if record.get("release_reason") == "order_cancelled":
            order = await self._repo.load(Order, record["_id"], record["merchant_id"])
            if order is None or not order.cancelled:
                # The cancel was never appended (refused or crashed before): stock stays held.
                await self._reservations.move(record["_id"], "releasing", "placed")
                return 1
        await release(
            record,
            record.get("release_reason", "reservation_expired"),
            self._repo,
            self._reservations,
            from_state="releasing",
        )
        log.warning("finished releasing stock of order %s", record["_id"])
        return 1

    async def run_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next pass retries
                log.warning("reconciler pass failed: %s", exc)
