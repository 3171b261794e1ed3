"""Local invalidation counters, one per tag ``(collection, merchant_id)``.

A cached entry remembers the epoch of its tag when it was loaded; it is valid only while
that epoch is unchanged. A change for ``(c, m)`` bumps ``(c, m)`` and ``(c, "*")`` — the tag
of queries that span merchants. ``reset`` (after the subscriber reconnects, when messages
may have been missed) makes every entry invalid at once.
"""

from __future__ import annotations

from shared.invalidation import ANY_MERCHANT as ANY
Tag = tuple[str, str]


class Epochs:
    def __init__(self) -> None:
        self._epochs: dict[Tag, int] = {}
        self._reset = 0

    def current(self, tag: Tag) -> tuple[int, int]:
        return self._reset, self._epochs.get(tag, 0)

    def bump(self, collection: str, merchant_id: str) -> None:
        for tag in ((collection, merchant_id), (collection, ANY)):
            self._epochs[tag] = self._epochs.get(tag, 0) + 1

    def reset(self) -> None:
        self._reset += 1
