"""Settlement: finishing what a placement or a cancel left undone (the reconciler).

The relay hands over the unpublished commits that carry an intent; each is settled
here, or left for later:

- a ``Hold`` (a ``StockReserved`` of a placement): the placement's command id is looked
  up (one read per placement). ``OrderPlaced`` found: the holds the order counts on stay,
  any other goes back. An outcome found (refused, or fenced): every hold goes back. Nothing
  found: the placement is still running, or its process died. Before the reservation TTL
  it is left alone (the relay comes back at its deadline); after it, an outcome
  ``409 order_not_placeable`` is stored under the placement's command id — which refuses a
  late ``OrderPlaced`` of a request that was only paused — and every hold goes back;
- a ``Release`` (an ``OrderCancelled``): every line is given back (idempotent).

Several processes may settle the same commits at once: every step is idempotent
(fences and releases have unique command ids), so they only repeat a read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bson import ObjectId

from shared.events import utc_now

from command_api.application.idempotency import refusal
from command_api.application.placement import OrderNotPlaceable, give_back, not_kept_by
from command_api.application.ports import (
    Commit,
    DuplicateCommand,
    EventStorePort,
    Hold,
    Outcome,
    Record,
    Release,
    ReleaseReason,
    rebinds,
)
from command_api.application.repository import CommandContext, Repository


@dataclass
class Settled:
    ids: set[ObjectId] = field(default_factory=set)  # intent commits whose work is now done
    appended: list[Commit] = field(default_factory=list)  # commits the work appended (to publish)
    next_deadline: datetime | None = None  # the earliest undecided placement's TTL


class Settlement:
    def __init__(self, repo: Repository, store: EventStorePort, *, ttl: float) -> None:
        """``ttl``: how long a placement may hold stock undecided (far longer than a command may run)."""
        self._repo, self._store, self._ttl = repo, store, timedelta(seconds=ttl)

    async def settle(self, commits: list[Commit]) -> Settled:
        done = Settled()
        placements: dict[str, list[Commit]] = {}
        for commit in commits:
            if isinstance(commit.intent, Hold):
                placements.setdefault(commit.intent.command_id, []).append(commit)
            elif isinstance(commit.intent, Release):
                done.appended += await self._release(commit, commit.intent)
                done.ids.add(commit.id)
        for holds in placements.values():
            await self._settle_placement(holds, done)
        return done

    async def _settle_placement(self, holds: list[Commit], done: Settled) -> None:
        hold = holds[0].intent
        assert isinstance(hold, Hold)
        decision = await self._store.find_by_command(hold.command_id)
        if isinstance(decision, Outcome) and decision.binding:  # a failed attempt's: still undecided
            decision = None
        if decision is None:
            deadline = min(c.committed_at for c in holds) + self._ttl
            if deadline > utc_now():
                done.next_deadline = min(deadline, done.next_deadline or deadline)
                return
            decision = await self._fence(hold, holds[0].merchant_id)
        ctx = CommandContext(holds[0].merchant_id, hold.command_id, hold.correlation_id)
        reason: ReleaseReason = "reservation_expired" if _expired(decision) else "order_rejected"
        held = list(dict.fromkeys(c.aggregate_id for c in holds))
        done.appended += await give_back(
            self._repo, ctx, hold.order_id, not_kept_by(decision, held), reason, publish=False
        )
        done.ids.update(c.id for c in holds)

    async def _fence(self, hold: Hold, merchant_id: str) -> Record:
        expired = OrderNotPlaceable(
            "The reservation expired before the order was placed; place it again with a new key.",
            current_state="expired",
        )
        outcome = Outcome(hold.command_id, merchant_id, refusal(expired), hold.fingerprint)
        for _ in range(3):
            try:
                await self._store.append(outcome)
                return outcome
            except DuplicateCommand as decided:
                if not rebinds(decided, hold.command_id, hold.fingerprint):
                    return decided.earlier  # placed (or refused) just now
                await self._store.unbind(hold.command_id, hold.fingerprint)  # a failed attempt's binding
        raise RuntimeError(f"placement {hold.command_id}: bound again while being fenced; next pass")

    async def _release(self, commit: Commit, release: Release) -> list[Commit]:
        ctx = CommandContext(commit.merchant_id, commit.command_id, commit.correlation_id)
        return await give_back(self._repo, ctx, release.order_id, release.product_ids, release.reason, publish=False)


def _expired(decision: Record) -> bool:
    if not isinstance(decision, Outcome) or decision.answer is None:
        return False
    return bool(decision.answer.body.get("error", {}).get("code") == EXPIRED)


EXPIRED = OrderNotPlaceable.code
