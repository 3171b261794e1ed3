"""``merchant_stats``: per merchant per UTC day of placement, the statistics of its orders.

The day is the order's placement day (a cohort): "of the orders placed on D, how many are
now shipped, how much revenue did they bring, how fast were they shipped". An order
contributes counts to its day's document (``contribution``); the projector adds each
order's ``new - old`` contribution, so a batch costs what it changed, not a re-read of the
day's orders. The ratios (average order value, payment success rate, average processing
time) are computed from the sums when the document is written (``document``).

``top_products`` comes from per-product counters: once paid, an order counts its units
per product (``units:<product id>``) while it is paid, shipped or delivered (0 once
refunded), and names each product as it captured it; a product's name is the one of the
latest paid order of the day that holds it, latest by (placed_at, order id). The five
with most units (ties by product id) are the day's top products. ``stats_for`` computes a
day from scratch: the reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from shared.read_models import (
    MERCHANT_STATS,
    MERCHANT_STATS_COUNTERS,
    MerchantStatsDoc,
    Sources,
    TopProduct,
    stored_int,
)

from projectors.domain.contributions import Contribution, Counts, Doc, Latest, latest_of, summed

COLLECTION = MERCHANT_STATS
COUNTERS = MERCHANT_STATS_COUNTERS

SOLD = ("paid", "shipped", "delivered")
STATUS = "status:"  # counts named status:<status> make orders_by_status
UNITS = "units:"  # counts named units:<product id>: the day's units sold per product
TOP_PRODUCTS = 5


def bucket_id(merchant_id: str, day: str) -> str:
    return f"{merchant_id}:{day}"


def _processing_seconds(order: Doc) -> int:
    if order.get("shipped_at") is None:
        return 0
    return int((order["shipped_at"] - order["placed_at"]).total_seconds())


def contribution(order: Doc) -> dict[str, Contribution]:
    shipped = order.get("shipped_at") is not None
    counts = {
        "orders_placed": 1,
        STATUS + order["status"]: 1,
        "revenue": order["paid_amount"] - order["refunded_amount"],
        "units_sold": order["item_count"] if order["status"] in SOLD else 0,
        "paid_orders": int(order["paid_amount"] > 0),
        "payments_failed": order["payment_failures"],
        "shipped_count": int(shipped),
        "processing_seconds_total": _processing_seconds(order),
    }
    names: dict[str, Latest] = {}
    if order.get("paid_at") is not None:
        sold = order["status"] in SOLD
        for line in order["lines"]:
            units = UNITS + line["product_id"]
            counts[units] = counts.get(units, 0) + (line["quantity"] if sold else 0)
            names[line["product_id"]] = Latest(order["placed_at"], order["_id"], line["name"])
    identity = {"merchant_id": order["merchant_id"], "day": order["placed_day"]}
    return {bucket_id(order["merchant_id"], order["placed_day"]): Contribution(identity, counts, latest=names)}


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def top_products(counts: Counts, names: Mapping[str, Latest]) -> list[TopProduct]:
    """The products that sold, most units first (ties by product id), five of them."""
    units = [(n, k.removeprefix(UNITS)) for k, n in counts.items() if k.startswith(UNITS) and n > 0]
    best = sorted(units, key=lambda item: (-item[0], item[1]))[:TOP_PRODUCTS]
    return [{"product_id": p, "name": names[p].value if p in names else "", "units": n} for n, p in best]


def document(
    key: str,
    identity: dict[str, str],
    counts: Counts,
    names: Mapping[str, Latest],
    version: int = 0,
    sources: Sources | None = None,
) -> MerchantStatsDoc:
    def n(name: str) -> int:
        return counts.get(name, 0)

    revenue, paid, failed, shipped = n("revenue"), n("paid_orders"), n("payments_failed"), n("shipped_count")
    processing = n("processing_seconds_total")
    by_status = {k.removeprefix(STATUS): stored_int(v) for k, v in sorted(counts.items()) if k.startswith(STATUS) and v}
    return {
        "_id": key,
        "merchant_id": identity["merchant_id"],
        "day": identity["day"],
        "orders_placed": stored_int(n("orders_placed")),
        "orders_by_status": by_status,
        "revenue": stored_int(revenue),
        "units_sold": stored_int(n("units_sold")),
        "paid_orders": stored_int(paid),
        "average_order_value": stored_int(revenue // paid) if paid else None,
        "payments_succeeded": stored_int(paid),
        "payments_failed": stored_int(failed),
        "payment_success_rate": _ratio(paid, paid + failed),
        "shipped_count": stored_int(shipped),
        "processing_seconds_total": stored_int(processing),
        "average_processing_seconds": stored_int(processing // shipped) if shipped else None,
        "top_products": top_products(counts, names),
        "version": version,
        "sources": sources or [],
    }


def stats_for(merchant_id: str, day: str, orders: Iterable[Doc]) -> MerchantStatsDoc:
    """One day computed from scratch from its orders (no version, no sources)."""
    parts = [c for o in orders for c in contribution(o).values()]
    key = bucket_id(merchant_id, day)
    return document(key, {"merchant_id": merchant_id, "day": day}, summed(parts), latest_of(c.latest for c in parts))
