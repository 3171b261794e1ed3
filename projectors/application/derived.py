"""Derived read models kept by delta: counters per source, documents as their sum.

A derived document (a category, a day's statistics, a product's sales that day) sums the
contributions of many aggregates, fed from several Kafka partitions and often written by
several processes at once. Per batch and derivation:

1. **Counters.** For every derived key the batch touches and every source (topic
   partition) it came from, a counter holds the sums of that source's aggregates and the
   source position it reflects (``version`` = offset + 1). The batch reads the touched
   keys' counters (one query), adds for each aggregate ``new - state at E`` where E is the
   counter's position (``Trail.state_at``), and appends a new counter
   ``<key>|<source>|<version>`` at the position of the batch's last record of that source;
   the older ones of that key and source are deleted after. Counters are never changed,
   only added (an insert with a unique ``_id`` is atomic on every server, FerretDB v1
   included, and a process killed mid-write leaves the older counter, never none); the
   latest position is the counter. A counter already at or past the batch's end is left
   alone: that delivery was applied before (a duplicate, a redelivery after a crash). The
   sums and their position are one document, so a change is applied once, whatever the
   batch boundaries.
2. **Documents.** The touched keys' counters are read again (one query) and each derived
   document is written as their sum, with ``version`` = the sum of the counters' versions
   and ``sources`` = each counter's version: counters only move forward, so a
   recomputation that saw more is newer, and a stale concurrent one cannot overwrite it.
   What a sum cannot give (a category's price range, a day's top products) is kept by
   ``compose``: from the stored document plus this batch's changes when that document
   reflects exactly the counters as they were before the batch, else (or when the extreme
   left) by one bounded, sorted read of the source collection.

Why it holds (docs/projections.md has the long form): counters are written before the
aggregates' state documents, and every key a batch's states touched is written, so when a
state is stored its counters already reflect it; a crash in between re-folds the same
events on redelivery and the counters' positions skip what was applied. A counter that is
missing reflects the stored states (a first write, or a new source after a rebuild).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from shared.invalidation import Change
from shared.read_models import Sources, StoredInt, loaded_int, stored_int

from projectors.application.folding import Trail
from projectors.application.known import Known
from projectors.application.ports import Doc, ReadModelStore
from projectors.domain.contributions import Contribute, Contribution, Counts, Latest, add_counts, delta, latest_of


@dataclass
class PriceChanges:
    """Prices that left and entered a key in this batch (from the counters' positions)."""

    removed: list[int] = field(default_factory=list)
    added: list[int] = field(default_factory=list)


@dataclass
class KeyState:
    """All a ``compose`` needs to write one derived document."""

    key: str
    identity: dict[str, str]
    counts: Counts
    latest: Mapping[str, Latest]  # per name (a product), its latest value (name) over the counters
    sources: dict[str, int]  # every counter of the key, as read after this batch's writes
    sources_before: dict[str, int]  # the same, with this batch's sources as they were before it
    stored: Doc | None  # the derived document as stored
    prices: PriceChanges
    ours: bool = True  # this batch's sources read back as this batch left them

    @property
    def version(self) -> int:
        return sum(self.sources.values())

    def source_list(self) -> Sources:
        return [{"source": s, "version": v} for s, v in sorted(self.sources.items())]

    def stored_is_current(self) -> bool:
        """The stored document reflects exactly the counters as they were before this
        batch (none: a key this batch created), and no other writer moved this batch's
        counters since: the stored document plus this batch's changes is the new one."""
        if not self.ours:
            return False
        if self.stored is None:
            return not self.sources_before
        return sources_of(self.stored) == self.sources_before


Compose = Callable[[ReadModelStore, KeyState], Awaitable[Doc]]


@dataclass(frozen=True)
class Derivation:
    view: str  # the derived collection
    counters: str  # its per-source counters
    contribute: Contribute
    compose: Compose
    # The fields readers are shown: a write changing none of them signals no invalidation
    # (caches keep their answers, which are still right). None: every write signals.
    served: tuple[str, ...] | None = None
    # Whether ``compose`` may read the store: then a batch's keys are composed concurrently
    # (their round trips overlap); else one after the other, without a task per key.
    compose_reads: bool = True


def counter_id(key: str, source: str, version: int) -> str:
    return f"{key}|{source}|{version}"


def latest_counters(found: Iterable[Doc]) -> tuple[dict[tuple[str, str], Doc], list[str]]:
    """The latest counter of each (key, source), and the ``_id`` of every older one."""
    latest: dict[tuple[str, str], Doc] = {}
    older: list[str] = []
    for counter in found:
        pair = (counter["key"], counter["source"])
        kept = latest.get(pair)
        if kept is None or kept["version"] < counter["version"]:
            latest[pair] = counter
            if kept is not None:
                older.append(kept["_id"])
        else:
            older.append(counter["_id"])
    return latest, older


def sources_of(doc: Doc) -> dict[str, int]:
    return {entry["source"]: entry["version"] for entry in doc.get("sources") or []}


@dataclass
class _Walk:
    """One trail's contributions to one derivation, state by state."""

    trail: Trail
    contribute: Contribute
    cache: dict[int, dict[str, Contribution]] = field(default_factory=dict)

    def of(self, state: Doc | None) -> dict[str, Contribution]:
        if state is None:
            return {}
        found = self.cache.get(id(state))
        if found is None:
            found = self.cache[id(state)] = self.contribute(state)
        return found

    def keys(self) -> set[str]:
        """The keys whose contribution changes somewhere along the trail. A key it leaves
        alone needs no write: its counter's position may lag, the contribution at any
        position is the same (the invariant in the module doc holds)."""
        changed: set[str] = set()
        states = self.trail.states()
        for before, after in zip(states, states[1:], strict=False):
            was, now = self.of(before), self.of(after)
            changed |= {k for k in was.keys() | now.keys() if was.get(k) != now.get(k)}
        return changed

    def at(self, position: int | None, key: str) -> Contribution | None:
        return self.of(self.trail.state_at(position)).get(key)

    def new(self, key: str) -> Contribution | None:
        return self.of(self.trail.new).get(key)

    def latest(self, key: str) -> dict[str, Latest]:
        found = [c.latest for state in self.trail.states() if (c := self.of(state).get(key)) and c.latest]
        return latest_of(found) if found else {}


@dataclass
class Pending:
    """What the counters step leaves for the documents step."""

    keys: set[str] = field(default_factory=set)
    before: dict[str, dict[str, int | None]] = field(default_factory=dict)  # key -> source -> version
    after: dict[str, dict[str, int]] = field(default_factory=dict)  # key -> source -> version left
    prices: dict[str, PriceChanges] = field(default_factory=dict)


def _touched(walks: Iterable[_Walk]) -> dict[tuple[str, str], list[_Walk]]:
    touched: dict[tuple[str, str], list[_Walk]] = {}
    for walk in walks:
        for key in walk.keys():
            touched.setdefault((key, walk.trail.source), []).append(walk)
    return touched


def _counter(key: str, source: str, stored: Doc | None, walks: list[_Walk], end: int, pending: Pending) -> Doc:
    """The successor of counter ``stored``: its counts and names as stored, with only what
    the walks changed converted and replaced (a day's counter holds every product sold that
    day: thousands of entries, a few of them changed per batch)."""
    position = stored["version"] - 1 if stored else None
    changed: Counts = {}
    newest: dict[str, Latest] = {}
    identity: dict[str, str] = {}
    prices = pending.prices.setdefault(key, PriceChanges())
    for walk in walks:
        before, after = walk.at(position, key), walk.new(key)
        add_counts(changed, delta(before, after))
        if walk_latest := walk.latest(key):
            newest = latest_of([newest, walk_latest])
        identity = dict((after or before or _any(walk, key)).identity)
        if (before.price if before else None) != (after.price if after else None):
            if before is not None and before.price is not None:
                prices.removed.append(before.price)
            if after is not None and after.price is not None:
                prices.added.append(after.price)
    counts: dict[str, StoredInt] = dict((stored or {}).get("counts", {}))
    added = any(k not in counts for k in changed)
    for k, n in changed.items():
        counts[k] = stored_int(loaded_int(counts.get(k)) + n)
    names: dict[str, Doc] = dict((stored or {}).get("names") or {})
    for name, value in newest.items():
        kept = names.get(name)
        if kept is None or (kept["placed_at"], kept["order_id"]) < value.order():
            added = added or kept is None
            names[name] = {"name": value.value, "placed_at": value.at, "order_id": value.tie}
    doc: Doc = {
        "_id": counter_id(key, source, end + 1),
        "key": key,
        "source": source,
        "version": end + 1,
        **identity,
        "counts": dict(sorted(counts.items())) if added else counts,
    }
    if names:
        doc["names"] = dict(sorted(names.items())) if added else names
    return doc


def _any(walk: _Walk, key: str) -> Contribution:
    return next(c for state in walk.trail.states() if (c := walk.of(state).get(key)))


class StoredNames(Mapping[str, Latest]):
    """Per name (a product), its latest value over several counters' stored ``names``,
    worked out when asked: a day's counters name every product sold that day, its document
    shows five (``merchant_stats.top_products``)."""

    def __init__(self, counters: Iterable[Doc]) -> None:
        self._stored: list[Mapping[str, Doc]] = [c["names"] for c in counters if c.get("names")]

    def __getitem__(self, name: str) -> Latest:
        found = [Latest(v["placed_at"], v["order_id"], v["name"]) for s in self._stored if (v := s.get(name))]
        if not found:
            raise KeyError(name)
        return max(found, key=Latest.order)  # the first of the latest, as latest_of keeps

    def __contains__(self, name: object) -> bool:
        return any(name in s for s in self._stored)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for s in self._stored for name in s))

    def __len__(self) -> int:
        return len(set().union(*self._stored))


@dataclass
class Plan:
    """A derivation's share of a batch: the (key, source) pairs it touched, and the touched
    keys' counters as stored before anything of the batch was written."""

    derivation: Derivation
    touched: dict[tuple[str, str], list[_Walk]]
    latest: dict[tuple[str, str], Doc]
    older: list[str]


async def read_counters(
    store: ReadModelStore, collection: str, keys: list[str], known: Known | None
) -> tuple[list[Doc], list[Doc]]:
    """Every counter of ``keys`` (read, or known), and those read (older ones among them).
    ``find_in`` matches each key exactly, whatever query shape the adapter sends (on
    FerretDB ``$in`` chunks): the same counters as a query per key, so the module doc holds."""
    remembered, unknown = known.counters(collection, keys) if known is not None else ([], keys)
    found = await store.find_in(collection, "key", unknown) if unknown else []
    if known is not None:
        known.learn_counters(collection, unknown, found)
    return remembered + found, found


async def plan_counters(
    store: ReadModelStore, derivation: Derivation, trails: list[Trail], known: Known | None
) -> Plan:
    touched = _touched(_Walk(t, derivation.contribute) for t in trails)
    keys = sorted({key for key, _ in touched})
    counters, read = await read_counters(store, derivation.counters, keys, known)
    latest, _ = latest_counters(counters)
    return Plan(derivation, touched, latest, latest_counters(read)[1])


async def write_counters(store: ReadModelStore, plan: Plan, ends: dict[str, int], known: Known | None) -> Pending:
    """Step 1: add this batch's deltas to the counters of every (key, source) it touched.

    A counter another writer added since ``plan`` read them is outranked only by a later
    position, and each counter is its own base plus its own delta: consistent either way."""
    pending = Pending(keys={key for key, _ in plan.touched})
    writes, replaced = [], list(plan.older)
    for (key, source), walks in plan.touched.items():
        current = plan.latest.get((key, source))
        pending.before.setdefault(key, {})[source] = current["version"] if current else None
        if current is not None and current["version"] - 1 >= ends[source]:
            pending.after.setdefault(key, {})[source] = current["version"]
            continue  # these positions were applied by an earlier delivery
        writes.append(_counter(key, source, current, walks, ends[source], pending))
        pending.after.setdefault(key, {})[source] = ends[source] + 1
        if current is not None:
            replaced.append(current["_id"])
    await store.append(plan.derivation.counters, writes)
    await store.delete_ids(plan.derivation.counters, replaced)  # only once their successors are in
    if known is not None:
        known.wrote_counters(plan.derivation.counters, writes)
    return pending


def _key_states(pending: Pending, counters: list[Doc], stored: dict[str, Doc]) -> list[KeyState]:
    by_key: dict[str, list[Doc]] = {}
    for counter in latest_counters(counters)[0].values():
        by_key.setdefault(counter["key"], []).append(counter)
    states = []
    for key in sorted(pending.keys):
        found = by_key.get(key)
        if not found:
            continue  # nothing written for it (every write of it lost to a newer writer's)
        sources = {c["source"]: c["version"] for c in found}
        before = dict(sources)
        for source, version in pending.before.get(key, {}).items():
            if version is None:
                before.pop(source, None)
            else:
                before[source] = version
        counts: Counts = {}
        for c in found:
            add_counts(counts, {k: loaded_int(v) for k, v in c["counts"].items()})
        states.append(
            KeyState(
                key,
                _identity(found[0]),
                counts,
                StoredNames(found),
                sources,
                before,
                stored.get(key),
                pending.prices.get(key, PriceChanges()),
                all(sources.get(s) == v for s, v in pending.after.get(key, {}).items()),
            )
        )
    return states


IDENTITY_FIELDS = ("merchant_id", "category", "day", "bucket", "product_id")


def _identity(counter: Doc) -> dict[str, str]:
    return {k: counter[k] for k in IDENTITY_FIELDS if k in counter}


async def read_documents(
    store: ReadModelStore, collection: str, keys: list[str], known: Known | None
) -> dict[str, Doc]:
    remembered, unknown = known.documents(collection, keys) if known is not None else ({}, keys)
    found = await store.find_ids(collection, unknown) if unknown else {}
    if known is not None:
        known.learn_documents(collection, unknown, found)
    return remembered | found


async def refresh_documents(
    store: ReadModelStore, derivation: Derivation, pending: Pending, known: Known | None
) -> list[Change]:
    """Step 2: write every touched key's document as the sum of its counters."""
    if not pending.keys:
        return []
    keys = sorted(pending.keys)
    (counters, _), stored = await asyncio.gather(
        read_counters(store, derivation.counters, keys, known), read_documents(store, derivation.view, keys, known)
    )
    stale = [
        state
        for state in _key_states(pending, counters, stored)
        if state.stored is None or sources_of(state.stored) != state.sources  # else nothing new since written
    ]
    if derivation.compose_reads:
        writes = list(await asyncio.gather(*(derivation.compose(store, state) for state in stale)))
    else:
        writes = [await derivation.compose(store, state) for state in stale]
    await store.write_newer(derivation.view, writes, {k: d["version"] for k, d in stored.items()})
    if known is not None:
        known.wrote_documents(derivation.view, writes)
    return [
        Change(derivation.view, d["merchant_id"], (d["_id"],))
        for d in writes
        if _shown_change(derivation.served, stored.get(d["_id"]), d)
    ]


def _shown_change(served: tuple[str, ...] | None, before: Doc | None, after: Doc) -> bool:
    return served is None or before is None or any(before.get(f) != after.get(f) for f in served)


async def plan_derivations(
    store: ReadModelStore, derivations: Iterable[Derivation], trails: list[Trail], known: Known | None = None
) -> list[Plan]:
    """Every derivation's counters read at once (nothing depends on another's writes)."""
    return list(await asyncio.gather(*(plan_counters(store, d, trails, known) for d in derivations)))


async def apply_derivations(
    store: ReadModelStore, plans: list[Plan], ends: dict[str, int], known: Known | None = None
) -> list[Change]:
    """Counters then documents, derivation by derivation. ``known``: a sole writer's memory
    of what it wrote (``application.known``), read instead of the store."""
    changes: list[Change] = []
    for plan in plans:
        pending = await write_counters(store, plan, ends, known)
        changes += await refresh_documents(store, plan.derivation, pending, known)
    return changes
