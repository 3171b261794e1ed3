"""The query API process never serves an old price once the projection has applied a change.

The change is made as the projector makes it — the read-model write, then
``shared.invalidation.publish`` — against the real query API process, Redis and MongoDB.
(The full command → Kafka → projector version needs the price-change command and the
projector's invalidation publishing from the other branches.)
"""

from __future__ import annotations

import pytest

from shared.read_models import CATALOG_PRODUCTS
from shared.redis import open_redis
from tests.support.freshness import price_changes_are_never_served_stale
from tests.support.read_models import product_doc

pytestmark = pytest.mark.e2e


async def test_price_change_is_never_served_stale(query_client, mongo_db, settings, merchant):
    product = product_doc(merchant["merchant_id"], 4242)
    await mongo_db[CATALOG_PRODUCTS].insert_one(product)
    redis = open_redis(settings)
    try:
        delays = await price_changes_are_never_served_stale(
            query_client, mongo_db, redis, settings.kafka_topic_prefix, product, changes=5, pause=0.03)
    finally:
        await redis.aclose()
    assert len(delays) == 5
