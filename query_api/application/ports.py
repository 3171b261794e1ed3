"""What the read side's application hands to the cache around it.

A loader (``listing.load_page``) answers a miss with the body, or with ``Loaded`` when
there is more to say: what a list page covers, so a change drops only the pages it can
affect, and the pages read ahead after it. The cache (``query_api.adapters.cache``)
stores what it is given; the application names only this type, never the cache.
"""

from __future__ import annotations

from dataclasses import dataclass

from query_api.application.pages import PageBounds, PageItems


@dataclass(frozen=True)
class Loaded:
    """A loader's result beyond the body: what a list page covers (``PageBounds``), and the
    pages read ahead after it as (cache key, body, bounds) — stored in L2 for the requests
    that will ask for them."""

    body: bytes
    page: PageBounds | None = None
    following: tuple[tuple[str, bytes, PageBounds], ...] = ()
    items: PageItems | None = None  # the page's items, to show a changed one without a reload
