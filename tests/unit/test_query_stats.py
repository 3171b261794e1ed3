"""The stats range report reads the per-day documents exactly as the projector writes them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from projectors.domain.merchant_stats import stats_for
from query_api.application.stats import summarise


def order(product_id: str, units: int, status: str = "delivered") -> dict:
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    return {
        "_id": f"o-{product_id}-{units}",
        "merchant_id": "m1",
        "placed_day": "2026-03-01",
        "status": status,
        "version": 4,
        "paid_amount": 1000,
        "refunded_amount": 0,
        "item_count": units,
        "payment_failures": 0,
        "placed_at": at,
        "paid_at": at,
        "shipped_at": at,
        "lines": [{"product_id": product_id, "name": product_id.title(), "quantity": units}],
    }


def test_top_products_add_up_over_days_in_the_projectors_shape():
    days = [
        stats_for("m1", "2026-03-01", [order("boots", 2), order("socks", 1)]),
        stats_for("m1", "2026-03-02", [order("socks", 3)]),
    ]
    assert isinstance(days[0]["top_products"], list)  # what merchant_stats stores
    report = summarise("m1", date(2026, 3, 1), date(2026, 3, 2), days)
    assert report["totals"]["top_products"] == [
        {"product_id": "socks", "units": 4},
        {"product_id": "boots", "units": 2},
    ]
    assert report["totals"]["orders_placed"] == 3 and report["totals"]["revenue"] == 3000
