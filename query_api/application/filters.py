"""What the list routes send to MongoDB: their sorts, and the filter each one builds from
its validated parameters.

The routes call these functions and ``query_api.application.queries`` builds its list of
every query from them too, so the list (and the ``explain`` tests run on it) cannot drift
from what the routes send. Every filter starts with the route's scope (``visible`` for the
storefront, ``merchant_id`` for a merchant's own data) and adds only top-level equality,
``$in`` and ranges on one field each, plus ``lines.product_id`` (orders containing a
product): the shapes ``query_api.application.pages`` can judge when a change arrives.
A contradictory range (``min_price`` above ``max_price``...) is a 400 ``invalid_parameter``.
"""

from __future__ import annotations

import re
from typing import Any

from shared.http.errors import ApiError

from query_api.application.pagination import ASC, DESC, Sort

Filter = dict[str, Any]
Values = dict[str, Any]  # validated parameters (``query_api.application.params``)

# The first sort of each table is the route's default.
PRODUCT_SORTS = {
    "newest": Sort("created_at", DESC),
    "price_asc": Sort("price_amount", ASC),
    "price_desc": Sort("price_amount", DESC),
    "name": Sort("name_lower", ASC),
}
MERCHANT_PRODUCT_SORTS = {
    **PRODUCT_SORTS,
    "updated": Sort("updated_at", DESC),  # recently edited first
    "stock": Sort("stock", ASC),  # low stock first
    "best_selling": Sort("units_sold", DESC),
}
ORDER_SORTS = {
    "newest": Sort("placed_at", DESC),
    "oldest": Sort("placed_at", ASC),
    "total_desc": Sort("total", DESC),  # biggest first
    "total_asc": Sort("total", ASC),
}
ORDER_STATUSES = ("placed", "confirmed", "paid", "shipped", "delivered", "cancelled", "expired", "refunded")
PRODUCT_STATUSES = ("draft", "published", "archived")


def _range(values: Values, low_name: str, high_name: str) -> Filter | None:
    """``{$gte, $lte}`` of two optional bounds (inclusive); a 400 when they contradict."""
    low, high = values.get(low_name), values.get(high_name)
    if low is not None and high is not None and low > high:
        raise ApiError(
            400,
            "invalid_parameter",
            f"{low_name} is above {high_name}.",
            [{"field": low_name, "problem": "invalid", "message": f"above {high_name}"}],
        )
    bounds = {op: v for op, v in (("$gte", low), ("$lte", high)) if v is not None}
    return bounds or None


def _one_or_any(choices: tuple[str, ...]) -> Any:
    """Equality for one value, ``$in`` for several (the index serves both)."""
    return choices[0] if len(choices) == 1 else {"$in": list(choices)}


def product_filters(values: Values, base: Filter) -> Filter:
    """The catalogue filters in ``values`` on top of ``base`` (the route's scope)."""
    filters = dict(base)
    if "category" in values:
        filters["category"] = values["category"]
    price = _range(values, "min_price", "max_price")
    if price:
        filters["price_amount"] = price
    if "in_stock" in values:
        filters["stock_status"] = {"$in": ["in_stock", "low_stock"]} if values["in_stock"] else "out_of_stock"
    if "name_prefix" in values:
        filters["name_lower"] = {"$regex": "^" + re.escape(values["name_prefix"].lower())}
    return filters


def catalog_filters(values: Values) -> Filter:
    """``GET /v1/products``: published products, of one shop or of every shop."""
    base: Filter = {"visible": True}
    if "merchant" in values:
        base["merchant_id"] = values["merchant"]
    return product_filters(values, base)


def merchant_product_filters(values: Values, merchant_id: str) -> Filter:
    """``GET /v1/merchant/products``: the catalogue filters plus status, SKU and a stock threshold."""
    base: Filter = {"merchant_id": merchant_id}
    if "status" in values:
        base["status"] = values["status"]
    filters = product_filters(values, base)
    if "sku" in values:
        filters["sku"] = values["sku"]
    if "max_stock" in values:
        filters["stock"] = {"$lte": values["max_stock"]}
    return filters


def order_filters(values: Values, merchant_id: str) -> Filter:
    """``GET /v1/merchant/orders``."""
    filters: Filter = {"merchant_id": merchant_id}
    if "status" in values:
        filters["status"] = _one_or_any(values["status"])
    if values.get("open"):
        filters["open"] = True  # placed, confirmed or paid: the fulfilment queue
    if "customer_email" in values:
        filters["customer_email"] = values["customer_email"].strip().lower()
    if "product_id" in values:
        filters["lines.product_id"] = values["product_id"]
    if "tracking_number" in values:
        filters["tracking_number"] = values["tracking_number"]
    total = _range(values, "min_total", "max_total")
    if total:
        filters["total"] = total
    placed = {op: values[p] for op, p in (("$gte", "from"), ("$lt", "to")) if p in values}
    if placed:
        filters["placed_at"] = placed
    return filters
