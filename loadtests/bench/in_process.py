"""The query API's two-level cache built in this process exactly as ``query_api.entrypoints.app`` builds
it, for the pairs that compare one of its paths with a raw driver call (no HTTP on either
side, so the difference is the cache's own code)."""

from __future__ import annotations

from shared.read_models import CATALOG_PRODUCTS
from shared.settings import QueryApiSettings

from query_api.adapters.cache.epochs import Epochs
from query_api.adapters.cache.l1 import L1Cache
from query_api.adapters.cache.l2 import L2Cache
from query_api.adapters.cache.stats import CacheStats
from query_api.adapters.cache.two_level import Query, TwoLevelCache
from query_api.application.listing import ListQuery, load_page
from query_api.application.pagination import CursorCodec
from query_api.entrypoints.endpoints.common import normalised_key


def two_level_cache(bench) -> TwoLevelCache:
    defaults = QueryApiSettings()
    epochs, stats = Epochs(), CacheStats()
    l1 = L1Cache(epochs, defaults.l1_max_entries, defaults.l1_ttl_unsubscribed_seconds)
    l2 = L2Cache(
        bench.redis, stats, prefix=bench.settings.kafka_topic_prefix, compress_min_bytes=defaults.l2_compress_min_bytes
    )
    return TwoLevelCache(l1, l2, epochs, stats)


def cached_page(key_name: str, merchant: str, page: ListQuery) -> Query:
    """The cache's Query for a catalogue page, as ``list_products`` builds it."""
    defaults = QueryApiSettings()
    codec = CursorCodec(defaults.cursor_secret)
    values = {"merchant": merchant}
    return Query(
        normalised_key(key_name, values),
        (CATALOG_PRODUCTS, merchant),
        defaults.l1_ttl_seconds,
        defaults.l2_ttl_catalog_seconds,
        lambda: load_page(
            page,
            codec,
            defaults.cursor_read_ahead_pages,
            lambda cursor: normalised_key(key_name, {**values, "cursor": cursor}),
        ),
    )
