"""The dashboard's queries (issue 20) on the real server, through the HTTP routes: each one
walked page by page with cursors equals a reference filter and sort in Python over the
merchant's documents, never shows another merchant's, and the first offset page agrees.

The documents repeat their sort values on purpose (totals, stock, units sold, statuses),
so the ``_id`` tie-breaker is exercised; the other merchant has matching documents for
every query, so isolation is tested, not assumed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from shared.read_models import MERCHANT_PRODUCTS, ORDERS

from merchant_testkit.read_models import BASE_TIME, merchant_product_doc, order_doc

pytestmark = pytest.mark.integration

Doc = dict[str, Any]
STATUSES = ("placed", "confirmed", "paid", "shipped", "delivered", "cancelled", "refunded")
PRODUCT_IDS = tuple(f"p-{n}" for n in range(6))


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _order(merchant_id: str, i: int, rng: random.Random) -> Doc:
    status = rng.choice(STATUSES)
    lines = [
        {"product_id": p, "sku": p.upper(), "name": p, "unit_price": 1000, "quantity": 1, "line_total": 1000}
        for p in rng.sample(PRODUCT_IDS, rng.randint(1, 3))
    ]
    shipped = status in ("shipped", "delivered")
    email = f"customer{i % 4}@example.com"
    return order_doc(
        merchant_id,
        i,
        _id=f"o-{merchant_id[-4:]}-{rng.getrandbits(40):010x}",
        status=status,
        open=status in ("placed", "confirmed", "paid"),
        lines=lines,
        total=rng.choice((1000, 2000, 3500, 5000)),  # ties on purpose
        customer={"email": email.upper(), "phone": None, "name": None},
        customer_email=email,
        tracking_number=f"TRK-{i % 7}" if shipped else None,
        placed_at=BASE_TIME + timedelta(hours=rng.randrange(48)),  # ties too
    )


def _product(merchant_id: str, i: int, rng: random.Random) -> Doc:
    updated = BASE_TIME + timedelta(minutes=rng.randrange(30))
    return merchant_product_doc(
        merchant_id,
        i,
        _id=f"p-{merchant_id[-4:]}-{rng.getrandbits(40):010x}",
        status=rng.choice(("draft", "published", "published", "archived")),
        stock=rng.randrange(9),
        units_sold=rng.randrange(5),
        updated_at=updated,
    )


@pytest.fixture(scope="module")
async def data(mongo_db, merchants) -> dict[str, Any]:
    rng = random.Random(20)
    mine, theirs = merchants
    orders = {m.merchant_id: [_order(m.merchant_id, i, rng) for i in range(60)] for m in merchants}
    products = {m.merchant_id: [_product(m.merchant_id, i, rng) for i in range(40)] for m in merchants}
    await mongo_db[ORDERS].insert_many([d for docs in orders.values() for d in docs])
    await mongo_db[MERCHANT_PRODUCTS].insert_many([d for docs in products.values() for d in docs])
    return {"mine": mine, "theirs": theirs, ORDERS: orders, MERCHANT_PRODUCTS: products}


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    params: dict[str, str]
    matches: Callable[[Doc], bool]
    field: str  # the sort field, with _id as tie-breaker in the same direction
    descending: bool

    @property
    def collection(self) -> str:
        return ORDERS if self.path.endswith("orders") else MERCHANT_PRODUCTS

    def expected(self, docs: list[Doc]) -> list[str]:
        chosen = [d for d in docs if self.matches(d)]
        chosen.sort(key=lambda d: (d[self.field], d["_id"]), reverse=self.descending)
        return [d["_id"] for d in chosen]


def _in_total_range(d: Doc) -> bool:
    return 2000 <= d["total"] <= 3500


ORDERS_PATH, PRODUCTS_PATH = "/v1/merchant/orders", "/v1/merchant/products"
CASES = (
    Case("orders by status", ORDERS_PATH, {"status": "paid"}, lambda d: d["status"] == "paid", "placed_at", True),
    Case(
        "orders by several statuses",
        ORDERS_PATH,
        {"status": "shipped,placed", "sort": "oldest"},
        lambda d: d["status"] in ("placed", "shipped"),
        "placed_at",
        False,
    ),
    Case("open orders queue", ORDERS_PATH, {"open": "true", "sort": "oldest"}, lambda d: d["open"], "placed_at", False),
    Case(
        "orders of a customer",
        ORDERS_PATH,
        {"customer_email": " Customer1@Example.com "},
        lambda d: d["customer_email"] == "customer1@example.com",
        "placed_at",
        True,
    ),
    Case(
        "orders of a product",
        ORDERS_PATH,
        {"product_id": "p-2"},
        lambda d: any(line["product_id"] == "p-2" for line in d["lines"]),
        "placed_at",
        True,
    ),
    Case(
        "order by tracking number",
        ORDERS_PATH,
        {"tracking_number": "TRK-3"},
        lambda d: d["tracking_number"] == "TRK-3",
        "placed_at",
        True,
    ),
    Case("orders biggest first", ORDERS_PATH, {"sort": "total_desc"}, lambda d: True, "total", True),
    Case(
        "orders in a total range",
        ORDERS_PATH,
        {"min_total": "2000", "max_total": "3500", "sort": "total_asc"},
        _in_total_range,
        "total",
        False,
    ),
    Case(
        "orders placed between, biggest first",
        ORDERS_PATH,
        {"from": "2026-01-01T10:00:00Z", "to": "2026-01-02T00:00:00Z", "sort": "total_desc"},
        lambda d: BASE_TIME + timedelta(hours=10) <= d["placed_at"] < BASE_TIME + timedelta(days=1),
        "total",
        True,
    ),
    Case(
        "open orders of a product in a total range",
        ORDERS_PATH,
        {"open": "true", "product_id": "p-1", "min_total": "2000"},
        lambda d: d["open"] and any(x["product_id"] == "p-1" for x in d["lines"]) and d["total"] >= 2000,
        "placed_at",
        True,
    ),
    Case(
        "products by status", PRODUCTS_PATH, {"status": "draft"}, lambda d: d["status"] == "draft", "created_at", True
    ),
    Case("products recently updated", PRODUCTS_PATH, {"sort": "updated"}, lambda d: True, "updated_at", True),
    Case(
        "products low stock",
        PRODUCTS_PATH,
        {"max_stock": "3", "sort": "stock"},
        lambda d: d["stock"] <= 3,
        "stock",
        False,
    ),
    Case("products best sellers", PRODUCTS_PATH, {"sort": "best_selling"}, lambda d: True, "units_sold", True),
    Case("product by SKU", PRODUCTS_PATH, {"sku": "SKU-7"}, lambda d: d["sku"] == "SKU-7", "created_at", True),
    Case("products by price", PRODUCTS_PATH, {"sort": "price_desc"}, lambda d: True, "price_amount", True),
    Case(
        "published low stock, best sellers first",
        PRODUCTS_PATH,
        {"status": "published", "max_stock": "4", "sort": "best_selling"},
        lambda d: d["status"] == "published" and d["stock"] <= 4,
        "units_sold",
        True,
    ),
)


async def walk(client, path: str, params: dict[str, str], key: str) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(100):
        page_params = {**params, "limit": "7", "fields": "id", **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=page_params, headers=auth(key))
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [item["id"] for item in body["data"]]
        cursor = body["next_cursor"]
        if not body["has_next"]:
            return ids
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_walk_equals_the_reference_and_shows_only_own_documents(client, data, case: Case):
    mine, theirs = data["mine"], data["theirs"]
    expected = case.expected(data[case.collection][mine.merchant_id])
    assert expected, f"{case.name}: the fixture has no matching document; the test would prove nothing"
    assert case.expected(data[case.collection][theirs.merchant_id]), "the other merchant must have matches too"
    walked = await walk(client, case.path, case.params, mine.secret_key)
    assert walked == expected
    first = await client.get(
        case.path, params={**case.params, "page": "1", "limit": "7"}, headers=auth(mine.secret_key)
    )
    body = first.json()
    assert [d["id"] for d in body["data"]] == expected[:7] and body["total"] == len(expected)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        (ORDERS_PATH, {"status": "paid,lost"}, "status"),
        (ORDERS_PATH, {"open": "false"}, "open"),
        (ORDERS_PATH, {"min_total": "-1"}, "min_total"),
        (ORDERS_PATH, {"min_total": "5000", "max_total": "1000"}, "min_total"),
        (ORDERS_PATH, {"sort": "biggest"}, "sort"),
        (ORDERS_PATH, {"product_id": "p 1"}, "product_id"),
        (PRODUCTS_PATH, {"max_stock": "-1"}, "max_stock"),
        (PRODUCTS_PATH, {"sku": "has space"}, "sku"),
        (PRODUCTS_PATH, {"sort": "stock_desc"}, "sort"),
    ],
)
async def test_bad_dashboard_parameters_are_400_naming_the_field(client, data, path, params, field):
    response = await client.get(path, params=params, headers=auth(data["mine"].secret_key))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_parameter" and field in {f["field"] for f in error["fields"]}
