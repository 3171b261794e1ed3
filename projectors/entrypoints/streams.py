"""The three streams the projectors consume, and the read models each one feeds.

| stream    | topic            | state document    | views            | derived (counters -> documents)      |
|-----------|------------------|-------------------|------------------|--------------------------------------|
| products  | products.events  | merchant_products | catalog_products | categories                           |
| orders    | orders.events    | orders            |                  | merchant_stats                       |
| merchants | merchants.events | merchant_names    |                  | (names into products: see app)       |

Each stream has its own consumer group, so its lag is its read models' lag.
"""

from __future__ import annotations

from shared.read_models import CATALOG_PRODUCTS, CATEGORY_SERVED_FIELDS, MERCHANT_NAMES, MERCHANT_PRODUCTS, ORDERS
from shared.topics import MERCHANTS, PRODUCTS
from shared.topics import ORDERS as ORDERS_TOPIC

from projectors.application import compose
from projectors.application import merchant_names as names
from projectors.application.derived import Derivation
from projectors.application.engine import Stream
from projectors.domain import catalog_products, categories, merchant_products, merchant_stats, orders
from projectors.domain import merchant_names as merchant_names_fold

CATEGORIES = Derivation(
    categories.COLLECTION,
    categories.COUNTERS,
    categories.contribution,
    compose.compose_category,
    served=CATEGORY_SERVED_FIELDS,
)
MERCHANT_STATS = Derivation(
    merchant_stats.COLLECTION,
    merchant_stats.COUNTERS,
    merchant_stats.contribution,
    compose.compose_merchant_stats,
    compose_reads=False,  # a sum of its counters
)

PRODUCTS_STREAM = Stream(
    name="products",
    topic=PRODUCTS,
    aggregate_type="product",
    state=MERCHANT_PRODUCTS,
    evolve=merchant_products.evolve,
    views=((CATALOG_PRODUCTS, catalog_products.view),),
    enrich=names.fill_merchant_names,
    derivations=(CATEGORIES,),
)

ORDERS_STREAM = Stream(
    name="orders",
    topic=ORDERS_TOPIC,
    aggregate_type="order",
    state=ORDERS,
    evolve=orders.evolve,
    derivations=(MERCHANT_STATS,),
)

MERCHANTS_STREAM = Stream(
    name="merchants",
    topic=MERCHANTS,
    aggregate_type="merchant",
    state=MERCHANT_NAMES,
    evolve=merchant_names_fold.evolve,
)

STREAMS = (MERCHANTS_STREAM, PRODUCTS_STREAM, ORDERS_STREAM)

# Internal to the projectors: each merchant's latest name, produced by the merchants
# subscriber to every partition, consumed by the products subscriber with the products
# topic, partition for partition (projectors.entrypoints.names).
NAMES_TOPIC = "projector.merchant-names"


def topics_of(stream: Stream) -> tuple[str, ...]:
    """Every topic a stream's consumer group reads (its lag is theirs)."""
    return (stream.topic, NAMES_TOPIC) if stream is PRODUCTS_STREAM else (stream.topic,)


def stream_of(read_model: str) -> Stream:
    """The stream that feeds a read model."""
    for stream in STREAMS:
        if read_model in stream.read_models:
            return stream
    raise KeyError(read_model)
