"""The publisher in memory: what would go to Kafka is kept in ``produced`` (in order), and
commits are marked published in the in-memory store at once — no queue, so a unit test
sees the effect of a command as soon as it answered. ``fail_next`` makes the next
``publish`` raise, as a broker outage would, and degrades it as the Kafka publisher is."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bson import ObjectId

from shared.events import EventEnvelope

from command_api.adapters.memory.event_store import InMemoryEventStore
from command_api.application.ports import Commit


class InMemoryPublisher:
    def __init__(self, store: InMemoryEventStore, *, on_activity: Callable[[], None] = lambda: None) -> None:
        self._store, self.on_activity = store, on_activity
        self.produced: list[EventEnvelope] = []
        self.fail_next = False
        self.unpublishable: set[str] = set()  # aggregates whose commits it refuses, as Kafka would a poison commit
        self._held: set[str] = set()
        self._degraded = False

    def submit(self, commit: Commit) -> None:
        self.on_activity()
        if not self._degraded and commit.aggregate_id not in self._held | self.unpublishable:
            self.produced.extend(commit.events)
            if commit.settled:
                self._store.mark_now([commit.id])

    def settle(self, commit_ids: Sequence[ObjectId]) -> None:
        if not self._degraded:
            self._store.mark_now(commit_ids)

    async def publish(self, commits: Sequence[Commit], settle: Sequence[ObjectId] = ()) -> dict[ObjectId, str]:
        if self.fail_next:
            self.fail_next, self._degraded = False, True
            self.on_activity()
            raise ConnectionError("the broker is unreachable (InMemoryPublisher.fail_next)")
        refused = {
            c.id: "unpublishable (InMemoryPublisher.unpublishable)"
            for c in commits
            if c.aggregate_id in self.unpublishable
        }
        left = {c.id for c in commits if c.aggregate_id in self.unpublishable}
        for commit in commits:
            if commit.id not in left:
                self.produced.extend(commit.events)
        self._store.mark_now(
            [*(c.id for c in commits if c.settled and c.id not in left), *(i for i in settle if i not in left)]
        )
        return refused

    def hold(self, aggregate_ids: set[str]) -> None:
        self._held = set(aggregate_ids)

    @property
    def degraded(self) -> bool:
        return self._degraded

    def caught_up(self) -> None:
        self._degraded = False

    def in_hand(self, commit_id: ObjectId) -> bool:
        return False  # nothing is ever queued: published (or not) at once
