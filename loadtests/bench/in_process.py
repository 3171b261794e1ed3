"""The query API's parts built in this process by its own composition root
(``query_api.entrypoints.bootstrap``), for the pairs that compare one of its paths with a
raw driver call (no HTTP on either side, so the difference is the cache's own code)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shared.read_models import CATALOG_PRODUCTS
from shared.settings import QueryApiSettings

from query_api.adapters.cache.two_level import Query
from query_api.application.listing import ListQuery, load_page
from query_api.entrypoints.bootstrap import QuerySide, bootstrap, close
from query_api.entrypoints.endpoints.common import normalised_key


@asynccontextmanager
async def query_side(bench) -> AsyncIterator[QuerySide]:
    """``bootstrap`` on the run's namespace (database, Redis prefix), closed afterwards."""
    side = bootstrap(QueryApiSettings(**{k.lower(): v for k, v in bench.env.items()}))
    try:
        yield side
    finally:
        await close(side)


def cached_page(side: QuerySide, key_name: str, merchant: str, page: ListQuery) -> Query:
    """The cache's Query for a catalogue page, as ``list_products`` builds it."""
    settings = side.settings
    values = {"merchant": merchant}
    return Query(
        normalised_key(key_name, values),
        (CATALOG_PRODUCTS, merchant),
        settings.l1_ttl_seconds,
        settings.cache_ttl("list"),
        lambda: load_page(
            page,
            side.codec,
            settings.cursor_read_ahead_pages,
            lambda cursor: normalised_key(key_name, {**values, "cursor": cursor}),
        ),
    )
