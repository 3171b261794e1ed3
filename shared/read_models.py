"""The read-model contract between ``projectors`` (who write) and ``query_api`` (who read).

Collection names and document shapes live here, in ``shared``, because neither side may
import the other. Money is in minor units. Every document carries ``version``: the
aggregate version it reflects (the idempotence guard, and what read-your-writes waits on).

catalog_products (one per product; storefront view)
    _id (product id), merchant_id, merchant_name, sku, name, name_lower (for prefix
    search), description, category, price {amount, currency}, price_amount, stock_status
    ("in_stock" | "low_stock" | "out_of_stock"), attributes, status, visible (published),
    created_at, updated_at, version

merchant_products (one per product; dashboard view)
    the catalog fields plus stock (exact), reserved (units held by open orders),
    units_sold, archived_at

orders (one per order)
    _id (order id), merchant_id, customer {email, phone, name}, customer_email,
    shipping_address, lines [{product_id, sku, name, unit_price, quantity, line_total}],
    currency, item_count, total, status, status_history [{status, at}], payment_reference,
    carrier, tracking_number, placed_at, updated_at, version

merchant_stats (one per merchant per UTC day)
    _id ("<merchant_id>:<YYYY-MM-DD>"), merchant_id, day, revenue, orders_by_status {...},
    orders_placed, units_sold, payments_succeeded, payments_failed,
    processing_seconds_total, shipped_count, top_products {product_id: units}

categories (one per merchant per category)
    _id ("<merchant_id>:<category>"), merchant_id, category, product_count (published)
"""

CATALOG_PRODUCTS = "catalog_products"
MERCHANT_PRODUCTS = "merchant_products"
ORDERS = "orders"
MERCHANT_STATS = "merchant_stats"
CATEGORIES = "categories"

ALL = (CATALOG_PRODUCTS, MERCHANT_PRODUCTS, ORDERS, MERCHANT_STATS, CATEGORIES)
# Internal to the projectors: each merchant's name, copied into products (not served).
MERCHANT_NAMES = "merchant_names"
