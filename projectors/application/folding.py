"""One aggregate's walk through a batch: its stored state, then its state after each event.

The engine folds each aggregate's events in version order. A ``Trail`` keeps every state
on the way, each stamped with the *position* it belongs to in its source (the Kafka offset
of its event; an event fetched from the event store to fill a gap takes the position of
the next delivered event, the one that made it needed). Positions never decrease along a
trail (``effective_positions``). Derived read models need the states between: a counter
that already holds this source's events up to position E must add ``state at E -> new``,
not ``stored -> new`` (``state_at``; see ``projectors.application.derived``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from projectors.application.ports import Doc


@dataclass
class Trail:
    aggregate_id: str
    source: str
    stored: Doc | None
    steps: list[tuple[int, Doc | None]] = field(default_factory=list)  # (position, state after)

    @property
    def new(self) -> Doc | None:
        return self.steps[-1][1] if self.steps else self.stored

    def states(self) -> list[Doc | None]:
        return [self.stored, *(state for _, state in self.steps)]

    def state_at(self, position: int | None) -> Doc | None:
        """The state once every event up to ``position`` is applied (``None``: the stored one)."""
        state = self.stored
        if position is None:
            return state
        for at, after in self.steps:
            if at > position:
                break
            state = after
        return state


def effective_positions(positions: list[int | None]) -> list[int]:
    """Each event's position: its own, or (fetched from the store) the next delivered one's;
    and never above a later event's, so positions grow along the trail."""
    out: list[int] = []
    following: int | None = None
    for position in reversed(positions):
        if position is not None:
            following = position if following is None else min(following, position)
        if following is None:
            raise ValueError("the last event of a trail must have been delivered")
        out.append(following)
    return out[::-1]
