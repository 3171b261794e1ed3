"""Dashboard reads: a secret key sees its own merchant's data, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.read_models import MERCHANT_PRODUCTS, MERCHANT_STATS, ORDERS

from merchant_testkit.read_models import merchant_product_doc, order_doc

pytestmark = pytest.mark.integration


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
async def data(mongo_db, merchants) -> dict:
    mine, theirs = merchants
    my_orders = [order_doc(mine.merchant_id, i) for i in range(30)]
    their_orders = [order_doc(theirs.merchant_id, i) for i in range(5)]
    await mongo_db[ORDERS].insert_many(my_orders + their_orders)
    await mongo_db[MERCHANT_PRODUCTS].insert_many(
        [merchant_product_doc(mine.merchant_id, i, status="draft" if i % 4 == 0 else "published") for i in range(20)]
        + [merchant_product_doc(theirs.merchant_id, 100 + i) for i in range(3)]
    )
    await mongo_db[MERCHANT_STATS].insert_many(
        [
            {
                "_id": f"{mine.merchant_id}:2026-01-0{d}",
                "merchant_id": mine.merchant_id,
                "day": f"2026-01-0{d}",
                "revenue": 1000 * d,
                "orders_by_status": {"placed": d},
                "orders_placed": d,
                "units_sold": 2 * d,
                "payments_succeeded": d,
                "payments_failed": 0,
                "processing_seconds_total": 60 * d,
                "shipped_count": 1,
                "top_products": {"p-1": d, "p-2": 1},
            }
            for d in range(1, 6)
        ]
    )
    return {"mine": mine, "theirs": theirs, "my_orders": my_orders, "their_orders": their_orders}


async def test_another_merchants_order_is_404(client, data):
    their_order = data["their_orders"][0]["_id"]
    response = await client.get(f"/v1/merchant/orders/{their_order}", headers=auth(data["mine"].secret_key))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    own = await client.get(f"/v1/merchant/orders/{their_order}", headers=auth(data["theirs"].secret_key))
    assert own.status_code == 200 and own.json()["id"] == their_order
    assert own.headers["cache-control"].startswith("private")


async def test_order_list_shows_only_own_orders(client, data):
    response = await client.get("/v1/merchant/orders", params={"limit": 100}, headers=auth(data["mine"].secret_key))
    ids = {o["id"] for o in response.json()["data"]}
    assert ids == {o["_id"] for o in data["my_orders"]}


async def test_order_filters(client, data):
    mine = data["mine"]
    params = {
        "status": "paid",
        "customer_email": "Customer1@Example.com",
        "from": "2026-01-01T05:00:00Z",
        "to": "2026-01-02T00:00:00Z",
        "limit": 100,
    }
    got = (await client.get("/v1/merchant/orders", params=params, headers=auth(mine.secret_key))).json()
    low, high = datetime(2026, 1, 1, 5, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    expected = [
        o["_id"]
        for o in sorted(data["my_orders"], key=lambda o: o["placed_at"], reverse=True)
        if o["status"] == "paid" and o["customer_email"] == "customer1@example.com" and low <= o["placed_at"] < high
    ]
    assert [o["id"] for o in got["data"]] == expected and expected


async def test_merchant_products_include_drafts_and_stock(client, data):
    body = (
        await client.get(
            "/v1/merchant/products", params={"status": "draft", "limit": 100}, headers=auth(data["mine"].secret_key)
        )
    ).json()
    assert len(body["data"]) == 5
    assert all(p["status"] == "draft" and p["stock"] == 10 for p in body["data"])


async def test_stats_sum_the_days_in_range(client, data):
    body = (
        await client.get(
            "/v1/merchant/stats",
            params={"from": "2026-01-02", "to": "2026-01-04"},
            headers=auth(data["mine"].secret_key),
        )
    ).json()
    assert [d["day"] for d in body["days"]] == ["2026-01-02", "2026-01-03", "2026-01-04"]
    assert body["totals"]["revenue"] == 9000
    assert body["totals"]["orders_by_status"] == {"placed": 9}
    assert body["totals"]["top_products"][0] == {"product_id": "p-1", "units": 9}
    other = (
        await client.get(
            "/v1/merchant/stats",
            params={"from": "2026-01-02", "to": "2026-01-04"},
            headers=auth(data["theirs"].secret_key),
        )
    ).json()
    assert other["totals"]["revenue"] == 0 and other["days"] == []


async def test_stats_reject_a_reversed_range(client, data):
    response = await client.get(
        "/v1/merchant/stats", params={"from": "2026-02-01", "to": "2026-01-01"}, headers=auth(data["mine"].secret_key)
    )
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["/v1/merchant/orders", "/v1/merchant/products", "/v1/merchant/stats"])
async def test_merchant_routes_need_a_secret_key(client, data, path):
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers=auth("sk_nope"))).status_code == 401
    publishable = await client.get(path, headers=auth(data["mine"].publishable_key))
    assert publishable.status_code == 403
