"""Summing per-day ``merchant_stats`` documents into a range report (in Python: FerretDB's
``$group`` only sums, and a range is at most a year of small documents)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from shared.read_models import loaded_int

COUNTERS = (
    "revenue",
    "orders_placed",
    "units_sold",
    "payments_succeeded",
    "payments_failed",
    "shipped_count",
    "processing_seconds_total",
)


def _units_by_product(top_products: list[dict[str, Any]] | dict[str, int] | None) -> dict[str, int]:
    """``merchant_stats`` stores a list of ``{product_id, name, units}``
    (projectors/domain/merchant_stats.py); a plain ``{product_id: units}`` mapping is read too."""
    if isinstance(top_products, dict):
        return top_products
    return {p["product_id"]: loaded_int(p["units"]) for p in top_products or ()}


def summarise(merchant_id: str, first: date, last: date, days: list[dict[str, Any]]) -> dict[str, Any]:
    """The answer of ``GET /v1/merchant/stats`` (``query_api.application.documents.Stats``)."""
    totals = {name: 0 for name in COUNTERS}
    by_status: Counter[str] = Counter()
    top: Counter[str] = Counter()
    series: list[dict[str, Any]] = []
    for doc in sorted(days, key=lambda d: d["_id"]):
        day: dict[str, Any] = {"day": doc["_id"].rsplit(":", 1)[1]}
        for name in COUNTERS:
            value = loaded_int(doc.get(name))  # an int, or its decimal string beyond 64 bits
            totals[name] += value
            day[name] = value
        day["orders_by_status"] = {k: loaded_int(v) for k, v in (doc.get("orders_by_status") or {}).items()}
        by_status.update(day["orders_by_status"])
        top.update(_units_by_product(doc.get("top_products")))
        series.append(day)
    shipped = totals["shipped_count"]
    return {
        "merchant_id": merchant_id,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "totals": {
            **totals,
            "orders_by_status": dict(by_status),
            "average_processing_seconds": (totals["processing_seconds_total"] / shipped if shipped else None),
            "top_products": [{"product_id": p, "units": n} for p, n in top.most_common(10)],
        },
        "days": series,
    }
