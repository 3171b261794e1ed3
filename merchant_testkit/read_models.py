"""Read-model documents shaped as ``shared/read_models.py`` describes them, for tests and
benchmarks that exercise the query API without running the projectors."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
CATEGORIES = ("shoes", "shirts", "hats", "bags", "socks")
STOCK = ("in_stock", "low_stock", "out_of_stock")


def product_doc(merchant_id: str, i: int, rng: random.Random | None = None, **overrides) -> dict:
    """A published catalogue product. Sort keys repeat on purpose (ties test the tie-breaker)."""
    rng = rng or random.Random(f"{merchant_id}:{i}")
    name = (
        f"{rng.choice(['Alpine', 'Beach', 'City', 'Desert', 'Forest'])} {rng.choice(['Boot', 'Cap', 'Tee'])} {i % 37}"
    )
    price = rng.randrange(1, 200) * 100
    created = BASE_TIME + timedelta(seconds=rng.randrange(0, 2000))
    doc = {
        "_id": f"p-{uuid.UUID(int=rng.getrandbits(128)).hex}",
        "merchant_id": merchant_id,
        "merchant_name": "Test Shop",
        "sku": f"SKU-{i}",
        "name": name,
        "name_lower": name.lower(),
        "description": "A product.",
        "category": CATEGORIES[i % len(CATEGORIES)],
        "price": {"amount": price, "currency": "EUR"},
        "price_amount": price,
        "stock_status": STOCK[i % 3],
        "attributes": {"colour": "red"},
        "status": "published",
        "visible": True,
        "created_at": created,
        "updated_at": created,
        "version": 1,
    }
    doc.update(overrides)
    return doc


def merchant_product_doc(merchant_id: str, i: int, **overrides) -> dict:
    doc = product_doc(merchant_id, i)
    doc.update({"stock": 10, "units_sold": 0, "archived_at": None})
    doc.update(overrides)
    return doc


def order_doc(merchant_id: str, i: int, **overrides) -> dict:
    placed = BASE_TIME + timedelta(hours=i)
    email = f"customer{i % 5}@example.com"
    doc = {
        "_id": f"o-{uuid.uuid4().hex}",
        "merchant_id": merchant_id,
        "customer": {"email": email, "phone": None, "name": f"Customer {i % 5}"},
        "customer_email": email,
        "shipping_address": {"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"},
        "lines": [
            {"product_id": "p-1", "sku": "SKU-1", "name": "Boot", "unit_price": 1000, "quantity": 2, "line_total": 2000}
        ],
        "currency": "EUR",
        "item_count": 2,
        "total": 2000,
        "status": ("placed", "paid", "shipped")[i % 3],
        "status_history": [{"status": "placed", "at": placed}],
        "payment_reference": None,
        "carrier": None,
        "tracking_number": None,
        "placed_at": placed,
        "updated_at": placed,
        "version": 1,
    }
    doc.update(overrides)
    return doc
