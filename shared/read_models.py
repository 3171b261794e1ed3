"""The read-model contract between ``projectors`` (who write) and ``query_api`` (who read).

Collection names and document shapes live here, in ``shared``, because neither side may
import the other. Money is in minor units. Every document carries ``version``: for a
per-aggregate document the aggregate version it reflects (the idempotence guard, and what
read-your-writes waits on); for a derived document what orders its recomputations.

catalog_products (one per product; storefront view)
    _id (product id), merchant_id, merchant_name, merchant_version (internal), sku, name,
    name_lower (for prefix search), description, category, price {amount, currency},
    price_amount, stock_status ("in_stock" | "low_stock" (<= 5) | "out_of_stock"),
    attributes, tags, status ("draft" | "published" | "archived"), visible (published),
    created_at, updated_at, version
    Storefront queries must filter ``visible: true`` (the partial indexes rely on it).

merchant_products (one per product; dashboard view)
    the catalog fields plus stock (exact, available), units_sold (units reserved by orders
    minus units released), archived_at

orders (one per order)
    _id (order id), merchant_id, customer {email, phone, name}, customer_email (lower-cased),
    shipping_address, lines [{product_id, sku, name, unit_price {amount, currency}, quantity,
    line_total}], currency, item_count, total, status, open (placed|confirmed|paid),
    status_history [{status, at}], payment_reference, payment_failures, last_payment_error,
    paid_amount, refunded_amount, carrier, tracking_number, cancel_reason, placed_at,
    placed_day ("YYYY-MM-DD"), confirmed_at, paid_at, shipped_at, delivered_at,
    cancelled_at, expired_at, refunded_at, updated_at, version
    Times are stored to the millisecond (what BSON keeps), so a document read back equals
    the one the projector folded.

merchant_stats (one per merchant per UTC day *of placement*: a cohort of orders)
    ``MerchantStatsDoc``: _id ("<merchant_id>:<YYYY-MM-DD>"), merchant_id, day,
    orders_placed, orders_by_status {status: n}, revenue (paid minus refunded), units_sold
    (orders now paid/shipped/delivered), paid_orders, average_order_value (revenue //
    paid_orders or null), payments_succeeded, payments_failed, payment_success_rate (0..1
    or null), shipped_count, processing_seconds_total, average_processing_seconds (placed ->
    shipped, or null), top_products [{product_id, name (as in the latest paid order of the
    day that holds it), units}] (5, most units first, ties by product id), version, sources

categories (one per merchant per category that ever held a non-archived product)
    ``CategoryDoc``: _id ("<merchant_id>:<category>"), merchant_id, category, product_count
    (published), total_count (not archived), min_price / max_price (price_amount of the
    cheapest / dearest published product, null when none), version, sources
    A category whose products all left keeps its document with zero counts.

Counters (internal to the projectors; the sums behind the two derived collections above):
category_counters, merchant_stats_counters
    ``CounterDoc``: _id ("<key>|<source>|<version>"), key (the derived document's _id),
    source (where the events came from: "<topic>#<partition>", or "replay" for a rebuild),
    version (the source's position it reflects: offset + 1), the key's identity fields,
    counts {name: n} (a day's units per product as "units:<product id>"), and for days
    names {product id: {name, placed_at, order_id}}. The latest version of each (key,
    source) is the counter; older ones are deleted once it is in. A derived document is the
    sum of its key's counters; its ``version`` is the sum of their versions and ``sources``
    lists them ([{source, version}, ...]) — see docs/projections.md.

Every count or sum in a derived document or counter is an ``int`` while it fits in 64 bits
and its decimal string beyond (``stored_int``/``loaded_int``): a day of maximum-size orders
overflows int64, and a value BSON cannot hold would fail its batch forever.

merchant_names (internal to the projectors): _id (merchant id), merchant_id, name, version

Index names and the queries they serve: ``shared.read_model_indexes``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

CATALOG_PRODUCTS = "catalog_products"
MERCHANT_PRODUCTS = "merchant_products"
ORDERS = "orders"
MERCHANT_STATS = "merchant_stats"
CATEGORIES = "categories"

ALL = (CATALOG_PRODUCTS, MERCHANT_PRODUCTS, ORDERS, MERCHANT_STATS, CATEGORIES)
# Internal to the projectors: each merchant's name, copied into products (not served).
MERCHANT_NAMES = "merchant_names"
# Internal to the projectors: the per-source sums the derived collections are made of.
CATEGORY_COUNTERS = "category_counters"
MERCHANT_STATS_COUNTERS = "merchant_stats_counters"

INT64_MAX = 2**63 - 1
StoredInt = int | str  # an int while it fits in 64 bits, its decimal string beyond


def stored_int(value: int) -> StoredInt:
    """How a count or sum is stored: BSON holds 64-bit integers, Python ints are unbounded."""
    return value if -INT64_MAX - 1 <= value <= INT64_MAX else str(value)


def loaded_int(value: StoredInt | None) -> int:
    """The exact value of a stored count or sum (``None``: a field not written yet, 0)."""
    return int(value) if value is not None else 0


class SourceVersion(TypedDict):
    source: str
    version: int


Sources = list[SourceVersion]  # sorted by source (FerretDB v1 stores no nested arrays)


class TopProduct(TypedDict):
    product_id: str
    name: str
    units: int


# The category fields readers are shown or filter on (``GET /v1/categories``): a category
# write that changes none of them — a price that only moves ``min_price``/``max_price`` —
# signals no cache invalidation (``projectors.application.derived``). A reader that starts
# serving another field adds it here.
CATEGORY_SERVED_FIELDS = ("merchant_id", "category", "product_count")


class CategoryDoc(TypedDict):
    _id: str
    merchant_id: str
    category: str
    product_count: StoredInt
    total_count: StoredInt
    min_price: int | None
    max_price: int | None
    version: int
    sources: Sources


class MerchantStatsDoc(TypedDict):
    _id: str
    merchant_id: str
    day: str
    orders_placed: StoredInt
    orders_by_status: dict[str, StoredInt]
    revenue: StoredInt
    units_sold: StoredInt
    paid_orders: StoredInt
    average_order_value: StoredInt | None
    payments_succeeded: StoredInt
    payments_failed: StoredInt
    payment_success_rate: float | None
    shipped_count: StoredInt
    processing_seconds_total: StoredInt
    average_processing_seconds: StoredInt | None
    top_products: list[TopProduct]
    version: int
    sources: Sources


class ProductName(TypedDict):
    name: str
    placed_at: datetime
    order_id: str


class CounterDoc(TypedDict, total=False):
    _id: str
    key: str
    source: str
    version: int
    merchant_id: str
    counts: dict[str, StoredInt]
    # identity fields of the derived document (category; day)
    category: str
    day: str
    # days: each product's name in the latest paid order that holds it
    names: dict[str, ProductName]
