"""What one aggregate's state adds to derived read models, as pure data.

A derived document (a category's counts, a day's statistics) is a sum over the aggregates
that feed it. ``Contribution`` is one aggregate's share in one such document: counts to add
(a day's units sold per product included), and what the document keeps beside sums — the
published price (a category's cheapest and dearest product) and the latest name of each
product sold.
The projector keeps derived documents by adding ``new - old`` contributions (the engine
knows both states of every aggregate it folds), never by re-reading their sources.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

Doc = dict[str, Any]
Counts = dict[str, int]


class Latest(NamedTuple):
    """A value that belongs to the most recent of its contributors (never removed: the
    contributors, orders of one day, only gain statuses). A tuple: a day's counter holds
    one per product sold, made and compared by the thousand per batch."""

    at: datetime
    tie: str
    value: str

    def order(self) -> tuple[datetime, str]:
        return self.at, self.tie


class Contribution(NamedTuple):
    """A tuple: one is made per aggregate state and derived document, and compared with the
    one of the state before (``derived``), by the thousand per batch."""

    identity: Mapping[str, str]  # the derived document's fields that name it (merchant_id, day...)
    counts: Mapping[str, int] = MappingProxyType({})
    price: int | None = None  # a published product's price (categories' min/max)
    latest: Mapping[str, Latest] = MappingProxyType({})  # product id -> its name in this order


Contribute = Callable[[Doc], dict[str, Contribution]]  # state -> {derived key: contribution}


def add_counts(total: Counts, counts: Mapping[str, int], sign: int = 1) -> None:
    for name, n in counts.items():
        total[name] = total.get(name, 0) + sign * n


def delta(before: Contribution | None, after: Contribution | None) -> Counts:
    """What moving one aggregate from ``before`` to ``after`` adds to a document's counts."""
    out: Counts = {}
    if after is not None:
        add_counts(out, after.counts)
    if before is not None:
        add_counts(out, before.counts, -1)
    return {k: v for k, v in out.items() if v}


def latest_of(values: Iterable[Mapping[str, Latest]]) -> dict[str, Latest]:
    """Per name, the most recent of ``values``."""
    out: dict[str, Latest] = {}
    for mapping in values:
        for name, value in mapping.items():
            if name not in out or out[name].order() < value.order():
                out[name] = value
    return out


def summed(contributions: Iterable[Contribution]) -> Counts:
    out: Counts = {}
    for c in contributions:
        add_counts(out, c.counts)
    return out
