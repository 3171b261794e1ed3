"""Local invalidation counters, one per tag ``(collection, scope)``.

A cached entry remembers the epoch of its tag when it was loaded; it is valid only while
that epoch is unchanged. A change for merchant ``m`` with ``ids`` bumps:

- ``(c, m)`` — that merchant's queries;
- ``(c, "*")`` — queries spanning merchants (the storefront catalogue across shops);
- ``(c, "id:<id>")`` for each id — single-document reads (a product by id), so a change to
  one product does not evict every other product's page; a change without ids bumps
  ``(c, "id:*")``, which every single-document tag of that collection also checks.

A change that names its documents can be *precise* for list pages (``query_api.application.pages``):
it bumps the epochs above, which every entry loading at that moment is checked against, but
not the ``broad`` epoch of the list tags, which is what cached list pages that know their
bounds are checked against — L1 drops exactly the pages the change affects instead. The
last precise changes of each list tag are kept (``PreciseChange``: ids, and the documents
once read back), so a page whose load overlapped such a change can still be cached if the
change does not affect it (``unaffected_since``).

**Serving an entry stale** (``query_api.adapters.cache.l1``, stale-while-revalidate) is
allowed only for an entry whose tag state is still the one it was loaded against, in the
same reset, and whose tags took no *no-stale* change (``bump(..., no_stale=True)``: the
repair after a read-your-writes read) after it was last known valid: ``stale_allowed``.
A no-stale change records when it was applied (``TagState.no_stale_at``); an entry last
known valid before that moment is never served again.

``reset`` makes every entry invalid at once: the subscriber calls it when it loses its
connection and again when it is back (messages may have been missed). ``listening`` tells
L1 whether invalidations are flowing; while they are not, new L1 entries get the short
fallback TTL, which is then the staleness bound.

**Bounded.** Tags are kept in LRU order, at most ``max_tags`` of them: without a bound,
every document ever changed would keep a counter for the life of the process. A tag's
counters live in a ``TagState`` object and an entry remembers that object, not only its
numbers: a tag forgotten and seen again gets a new object, so no entry loaded before it
was forgotten can match it again. Forgetting a tag therefore costs at most a reload of
the entries under it, never a stale answer. Reading a tag (every L1 check) keeps it.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shared.invalidation import ANY_ID as ANY_DOC
from shared.invalidation import ANY_MERCHANT as ANY
from shared.invalidation import generation_key, id_generation_key

from query_api.application.pages import PageBounds

Tag = tuple[str, str]
_ID = "id:"
ANY_ID = _ID + "*"


def id_tag(collection: str, doc_id: str) -> Tag:
    return collection, _ID + doc_id


def generation_keys(tag: Tag) -> tuple[str, ...]:
    """The projectors' generation counters that cover ``tag`` (``shared.invalidation``): the
    merchant's (or ``*``) for queries; the document's and ``id:*`` for a single document."""
    if tag[1].startswith(_ID):
        return id_generation_key(tag[0], tag[1][len(_ID) :]), id_generation_key(tag[0], ANY_DOC)
    return (generation_key(*tag),)


@dataclass(eq=False)
class PreciseChange:
    ids: frozenset[str]
    docs: list[dict[str, Any]] | None = field(default=None)  # None until read back
    at: float = field(default_factory=time.monotonic)
    read_at: float = 0.0  # when the documents were read back (monotonic)


# The precise changes remembered per list tag serve only the pages whose load overlapped
# them (a load gives up after the store timeout, 5 s by default), and each holds the
# changed documents read back in full: kept at most LOG_SIZE of them, none older than
# LOG_SECONDS (pruned at the tag's next change). Forgetting one costs a page loaded across
# it its place in L1 (``unaffected_since`` is then False), never a stale answer. (256 and
# no age limit held ~3.5 KB per change for every active merchant and read model: some
# 20 MB of the query API's growth over a 30-minute run with 5 merchants, more with more.)
LOG_SIZE = 32
LOG_SECONDS = 30.0
MAX_TAGS = 50_000


@dataclass(eq=False, slots=True)
class TagState:
    """One tag's counters; compared by identity (see the module's docstring)."""

    changes: int = 0  # every change
    broad: int = 0  # changes that were not precise: what pages with bounds are valid against
    log: deque[tuple[int, PreciseChange]] | None = None  # the last precise changes (list tags)
    no_stale_at: float = 0.0  # when the last no-stale change was applied (monotonic seconds)


# What an entry remembers: (reset, state, changes, the id:* state or None, its changes).
Epoch = tuple[int, TagState, int, TagState | None, int]
Broad = tuple[int, TagState, int]


class Epochs:
    def __init__(self, max_tags: int = MAX_TAGS) -> None:
        self._tags: OrderedDict[Tag, TagState] = OrderedDict()
        self._max_tags = max_tags
        self._reset = 0
        self.listening = False

    def __len__(self) -> int:
        return len(self._tags)

    def _state(self, tag: Tag) -> TagState:
        state = self._tags.get(tag)
        if state is not None:
            self._tags.move_to_end(tag)
            return state
        state = self._tags[tag] = TagState()
        if len(self._tags) > self._max_tags:
            self._tags.popitem(last=False)  # the least recently used tag is forgotten
        return state

    def current(self, tag: Tag) -> Epoch:
        state = self._state(tag)
        if not tag[1].startswith(_ID):
            return self._reset, state, state.changes, None, 0
        any_id = self._state((tag[0], ANY_ID))
        return self._reset, state, state.changes, any_id, any_id.changes

    def current_broad(self, tag: Tag) -> Broad:
        """What a list page with known bounds is valid against."""
        state = self._state(tag)
        return self._reset, state, state.broad

    def bump(
        self,
        collection: str,
        merchant_id: str,
        ids: Iterable[str] = (),
        precise: bool = False,
        no_stale: bool = False,
    ) -> PreciseChange | None:
        """One change. ``no_stale``: what it invalidates must never be served stale (a
        read-your-writes read has shown a newer version to some client)."""
        ids = tuple(ids)
        lists = [self._state((collection, merchant_id)), self._state((collection, ANY))]
        docs = [self._state(tag) for tag in [id_tag(collection, i) for i in ids] or [(collection, ANY_ID)]]
        now = time.monotonic() if no_stale else 0.0
        for state in lists + docs:
            state.changes += 1
            if no_stale:
                state.no_stale_at = now
        if not precise:
            for state in lists:
                state.broad += 1
            return None
        change = PreciseChange(frozenset(ids), at=time.monotonic())
        for state in lists:
            if state.log is None:
                state.log = deque(maxlen=LOG_SIZE)
            while state.log and state.log[0][1].at < change.at - LOG_SECONDS:
                state.log.popleft()
            state.log.append((state.changes, change))
        return change

    def unaffected_since(self, tag: Tag, epoch: Epoch, page: PageBounds) -> bool:
        """Whether every change of ``tag`` after ``epoch`` was precise, is read back, and
        leaves ``page`` (``PageBounds``) as it is — then a page loaded meanwhile is right."""
        reset, state, changes = epoch[0], epoch[1], epoch[2]
        if reset != self._reset or self._tags.get(tag) is not state:
            return False
        since = [change for count, change in state.log or () if count > changes]
        if len(since) != state.changes - changes:
            return False  # a change not in the log (not precise, or forgotten)
        for change in since:
            if (
                change.docs is None
                or not change.ids.isdisjoint(page.ids)
                or any(page.affected_by(doc) for doc in change.docs)
            ):
                return False
        return True

    def only_change_since(self, tag: Tag, broad: Broad, change: PreciseChange) -> bool:
        """Whether ``change`` is the last change of ``tag``, in the state a page valid
        against ``broad`` was checked against, and no other change's documents were read
        back since it was applied: then a page that was current just before ``change``
        differs from the data of now only by ``change``'s documents."""
        reset, state, count = broad
        if reset != self._reset or self._tags.get(tag) is not state or state.broad != count or not state.log:
            return False
        last_count, last = state.log[-1]
        if last is not change or last_count != state.changes:
            return False
        return all(other.read_at < change.at for _, other in state.log if other is not change and other.docs)

    def stale_allowed(self, tag: Tag, epoch: Epoch | Broad, known_valid_at: float) -> bool:
        """Whether an entry of ``tag`` loaded at ``epoch`` and last known valid at
        ``known_valid_at`` (monotonic) may be served stale: its tag states are still the
        current ones, and no no-stale change was applied since that moment."""
        if epoch[0] != self._reset:
            return False
        states: list[tuple[Tag, TagState]] = [(tag, epoch[1])]
        if len(epoch) == 5 and epoch[3] is not None:  # a single document: the id:* state too
            states.append(((tag[0], ANY_ID), epoch[3]))
        for key, state in states:
            if self._tags.get(key) is not state or state.no_stale_at >= known_valid_at:
                return False
        return True

    def bump_broad(self, collection: str, merchant_id: str) -> None:
        for tag in ((collection, merchant_id), (collection, ANY)):
            self._state(tag).broad += 1

    def reset(self) -> None:
        self._reset += 1
        self._tags.clear()
