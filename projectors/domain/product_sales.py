"""``product_sales``: per merchant, day of placement and product, the units sold that day.

An order contributes once it has been paid (``paid_at`` set): for each product on its
lines, the units while the order is paid, shipped or delivered (0 once refunded: it still
names the product), and the product's name as the order captured it. A product's name in
``product_sales`` (and ``merchant_stats.top_products``) is the one of the latest paid order
of the day that holds it, latest by (placed_at, order id). Orders never paid (placed,
confirmed, cancelled before payment) contribute nothing, so most order events leave
``product_sales`` alone. ``ranked`` orders products for ``top_products``: most units
first, ties by product id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.read_models import PRODUCT_SALES as COLLECTION  # noqa: F401 (re-export)
from shared.read_models import PRODUCT_SALES_COUNTERS as COUNTERS  # noqa: F401 (re-export)
from shared.read_models import ProductSalesDoc, Sources, TopProduct, loaded_int, stored_int

from projectors.domain.contributions import Contribution, Doc, Latest

SOLD = ("paid", "shipped", "delivered")
TOP_PRODUCTS = 5


def sales_id(merchant_id: str, day: str, product_id: str) -> str:
    return f"{merchant_id}:{day}:{product_id}"


def contribution(order: Doc) -> dict[str, Contribution]:
    if order.get("paid_at") is None:
        return {}
    sold = order["status"] in SOLD
    merchant_id, day = order["merchant_id"], order["placed_day"]
    units: dict[str, int] = {}
    names: dict[str, str] = {}
    for line in order["lines"]:
        units[line["product_id"]] = units.get(line["product_id"], 0) + line["quantity"]
        names[line["product_id"]] = line["name"]
    return {
        sales_id(merchant_id, day, product_id): Contribution(
            {"merchant_id": merchant_id, "day": day, "bucket": f"{merchant_id}:{day}", "product_id": product_id},
            {"units": n if sold else 0},
            latest=Latest(order["placed_at"], order["_id"], names[product_id]),
        )
        for product_id, n in units.items()
    }


@dataclass(frozen=True)
class Sales:
    product_id: str
    name: str
    units: int


def document(
    key: str, identity: dict[str, str], units: int, name: str, version: int = 0, sources: Sources | None = None
) -> ProductSalesDoc:
    return {
        "_id": key,
        "merchant_id": identity["merchant_id"],
        "day": identity["day"],
        "bucket": identity["bucket"],
        "product_id": identity["product_id"],
        "name": name,
        "units": stored_int(units),
        "version": version,
        "sources": sources or [],
    }


def of_document(doc: Doc) -> Sales:
    return Sales(doc["product_id"], doc["name"], loaded_int(doc["units"]))


def ranked(sales: Iterable[Sales]) -> list[TopProduct]:
    """Products that sold, most units first (ties by product id)."""
    selling = sorted((s for s in sales if s.units > 0), key=lambda s: (-s.units, s.product_id))
    return [{"product_id": s.product_id, "name": s.name, "units": s.units} for s in selling]


def from_orders(orders: Iterable[Doc]) -> dict[str, Sales]:
    """Every product's sales computed from scratch from its day's orders."""
    units: dict[str, int] = {}
    latest: dict[str, Latest] = {}
    products: dict[str, str] = {}
    for order in orders:
        for key, c in contribution(order).items():
            units[key] = units.get(key, 0) + c.counts["units"]
            products[key] = c.identity["product_id"]
            if c.latest is not None and (key not in latest or c.latest.order() > latest[key].order()):
                latest[key] = c.latest
    return {key: Sales(products[key], latest[key].value, units[key]) for key in units}
