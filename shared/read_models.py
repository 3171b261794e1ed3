"""The read-model contract between ``projectors`` (who write) and ``query_api`` (who read).

Collection names and document shapes live here, in ``shared``, because neither side may
import the other. Money is in minor units. Every document carries ``version``: the
aggregate version it reflects (the idempotence guard, and what read-your-writes waits on).

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
    cancelled_at, refunded_at, updated_at, version

merchant_stats (one per merchant per UTC day *of placement*: a cohort of orders)
    _id ("<merchant_id>:<YYYY-MM-DD>"), merchant_id, day, orders_placed,
    orders_by_status {status: n}, revenue (paid minus refunded), units_sold (orders now
    paid/shipped/delivered), paid_orders, average_order_value (revenue // paid_orders or
    null), payments_succeeded, payments_failed, payment_success_rate (0..1 or null),
    shipped_count, processing_seconds_total, average_processing_seconds (placed ->
    shipped, or null), top_products [{product_id, name, units}] (5, most units first),
    version (sum of the source orders' versions)

categories (one per merchant per category that has a non-archived product)
    _id ("<merchant_id>:<category>"), merchant_id, category, product_count (published),
    total_count (not archived), version (sum of the merchant's product versions)

merchant_names (internal to the projectors): _id (merchant id), merchant_id, name, version

Index names and the queries they serve: ``shared.read_model_indexes``.
"""

CATALOG_PRODUCTS = "catalog_products"
MERCHANT_PRODUCTS = "merchant_products"
ORDERS = "orders"
MERCHANT_STATS = "merchant_stats"
CATEGORIES = "categories"

ALL = (CATALOG_PRODUCTS, MERCHANT_PRODUCTS, ORDERS, MERCHANT_STATS, CATEGORIES)
# Internal to the projectors: each merchant's name, copied into products (not served).
MERCHANT_NAMES = "merchant_names"
