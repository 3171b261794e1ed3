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

``reset`` makes every entry invalid at once: the subscriber calls it when it loses its
connection and again when it is back (messages may have been missed). ``listening`` tells
L1 whether invalidations are flowing; while they are not, new L1 entries get the short
fallback TTL, which is then the staleness bound.
"""

from __future__ import annotations

from collections import deque
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


LOG_SIZE = 256  # precise changes remembered per list tag


class Epochs:
    def __init__(self) -> None:
        self._epochs: dict[Tag, int] = {}
        self._broad: dict[Tag, int] = {}
        self._log: dict[Tag, deque[tuple[int, PreciseChange]]] = {}
        self._reset = 0
        self.listening = False

    def current(self, tag: Tag) -> tuple[int, int, int]:
        any_id = self._epochs.get((tag[0], ANY_ID), 0) if tag[1].startswith(_ID) else 0
        return self._reset, self._epochs.get(tag, 0), any_id

    def current_broad(self, tag: Tag) -> tuple[int, int]:
        """What a list page with known bounds is valid against."""
        return self._reset, self._broad.get(tag, 0)

    def bump(
        self, collection: str, merchant_id: str, ids: Iterable[str] = (), precise: bool = False
    ) -> PreciseChange | None:
        ids = tuple(ids)
        lists = [(collection, merchant_id), (collection, ANY)]
        for tag in lists + ([id_tag(collection, i) for i in ids] or [(collection, ANY_ID)]):
            self._epochs[tag] = self._epochs.get(tag, 0) + 1
        if not precise:
            self.bump_broad(collection, merchant_id)
            return None
        change = PreciseChange(frozenset(ids))
        for tag in lists:
            self._log.setdefault(tag, deque(maxlen=LOG_SIZE)).append((self._epochs[tag], change))
        return change

    def unaffected_since(self, tag: Tag, epoch: tuple[int, int, int], page: PageBounds) -> bool:
        """Whether every change of ``tag`` after ``epoch`` was precise, is read back, and
        leaves ``page`` (``PageBounds``) as it is — then a page loaded meanwhile is right."""
        if epoch[0] != self._reset:
            return False
        since = [change for count, change in self._log.get(tag, ()) if count > epoch[1]]
        if len(since) != self._epochs.get(tag, 0) - epoch[1]:
            return False  # a change not in the log (not precise, or forgotten)
        for change in since:
            if (
                change.docs is None
                or not change.ids.isdisjoint(page.ids)
                or any(page.affected_by(doc) for doc in change.docs)
            ):
                return False
        return True

    def bump_broad(self, collection: str, merchant_id: str) -> None:
        for tag in ((collection, merchant_id), (collection, ANY)):
            self._broad[tag] = self._broad.get(tag, 0) + 1

    def reset(self) -> None:
        self._reset += 1
        self._log.clear()
