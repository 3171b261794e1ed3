"""``merchant_stats``: per merchant per UTC day of placement, derived from ``orders``.

Why derived and not ``$inc``: an increment applied twice (a redelivered batch that was
already written) would double-count, and guarding it needs a tracking record written
atomically with the increment — impossible without transactions (FerretDB has none). So
after each batch the projector *recomputes* every touched (merchant, day) bucket from the
``orders`` documents, which are themselves version-guarded. Recomputing is idempotent by
construction, so duplicates, replays and crashes cannot skew the numbers.

Concurrent recomputations (two processes own different partitions, but orders of one
merchant and day can sit in both) are ordered by ``version``: the sum of the source
orders' versions. Orders only gain versions and are never deleted, so a computation that
saw more changes has a strictly greater sum, and a stale one can never overwrite it.

The day is the order's placement day (a cohort): "of the orders placed on D, how many are
now shipped, how much revenue did they bring, how fast were they shipped".
"""

from __future__ import annotations

from collections import Counter

from shared.read_models import MERCHANT_STATS as COLLECTION  # noqa: F401 (re-export)

# Fields of an order document the statistics need (the projector reads only these).
SOURCE_FIELDS = (
    "status",
    "version",
    "paid_amount",
    "refunded_amount",
    "item_count",
    "lines",
    "payment_failures",
    "placed_at",
    "shipped_at",
)
SOLD = ("paid", "shipped", "delivered")
TOP_PRODUCTS = 5


def bucket_id(merchant_id: str, day: str) -> str:
    return f"{merchant_id}:{day}"


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def stats_for(merchant_id: str, day: str, orders: list[dict]) -> dict:
    by_status = Counter(o["status"] for o in orders)
    sold = [o for o in orders if o["status"] in SOLD]
    revenue = sum(o["paid_amount"] - o["refunded_amount"] for o in orders)
    paid = sum(1 for o in orders if o["paid_amount"] > 0)
    failed = sum(o["payment_failures"] for o in orders)
    shipped = [o for o in orders if o.get("shipped_at") is not None]
    processing = sum(int((o["shipped_at"] - o["placed_at"]).total_seconds()) for o in shipped)
    units: Counter[str] = Counter()
    names: dict[str, str] = {}
    for order in sold:
        for line in order["lines"]:
            units[line["product_id"]] += line["quantity"]
            names[line["product_id"]] = line["name"]
    top = sorted(units.items(), key=lambda item: (-item[1], item[0]))[:TOP_PRODUCTS]
    return {
        "_id": bucket_id(merchant_id, day),
        "merchant_id": merchant_id,
        "day": day,
        "orders_placed": len(orders),
        "orders_by_status": dict(sorted(by_status.items())),
        "revenue": revenue,
        "units_sold": sum(o["item_count"] for o in sold),
        "paid_orders": paid,
        "average_order_value": revenue // paid if paid else None,
        "payments_succeeded": paid,
        "payments_failed": failed,
        "payment_success_rate": _ratio(paid, paid + failed),
        "shipped_count": len(shipped),
        "processing_seconds_total": processing,
        "average_processing_seconds": processing // len(shipped) if shipped else None,
        "top_products": [{"product_id": p, "name": names[p], "units": n} for p, n in top],
        "version": sum(o["version"] for o in orders),
    }
