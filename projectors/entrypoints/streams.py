"""The three streams the projectors consume, and the read models each one feeds.

| stream    | topic            | state document    | views            | derived                  |
|-----------|------------------|-------------------|------------------|--------------------------|
| products  | products.events  | merchant_products | catalog_products | categories               |
| orders    | orders.events    | orders            |                  | merchant_stats           |
| merchants | merchants.events | merchant_names    |                  | (names into products)    |

Each stream has its own consumer group, so its lag is its read models' lag.
"""

from __future__ import annotations

from shared.read_models import CATALOG_PRODUCTS, CATEGORIES, MERCHANT_NAMES, MERCHANT_PRODUCTS, MERCHANT_STATS, ORDERS
from shared.topics import MERCHANTS, PRODUCTS
from shared.topics import ORDERS as ORDERS_TOPIC

from projectors.adapters import derived
from projectors.application.engine import Stream
from projectors.domain import catalog_products, merchant_names, merchant_products, orders

PRODUCTS_STREAM = Stream(
    name="products",
    topic=PRODUCTS,
    aggregate_type="product",
    state=MERCHANT_PRODUCTS,
    evolve=merchant_products.evolve,
    views=((CATALOG_PRODUCTS, catalog_products.view),),
    enrich=derived.fill_merchant_names,
    derive=derived.after_products,
    derived=(CATEGORIES,),
)

ORDERS_STREAM = Stream(
    name="orders",
    topic=ORDERS_TOPIC,
    aggregate_type="order",
    state=ORDERS,
    evolve=orders.evolve,
    derive=derived.after_orders,
    derived=(MERCHANT_STATS,),
)

MERCHANTS_STREAM = Stream(
    name="merchants",
    topic=MERCHANTS,
    aggregate_type="merchant",
    state=MERCHANT_NAMES,
    evolve=merchant_names.evolve,
    derive=derived.after_merchants,
)

STREAMS = (MERCHANTS_STREAM, PRODUCTS_STREAM, ORDERS_STREAM)


def stream_of(read_model: str) -> Stream:
    """The stream that feeds a read model."""
    for stream in STREAMS:
        if read_model in stream.read_models:
            return stream
    raise KeyError(read_model)
