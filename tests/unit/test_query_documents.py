"""The typed answers (``query_api.application.documents``) describe what the routes really
send: documents the projectors' own folds make, rendered by the views, validate against
them; and the OpenAPI document takes its schemas and parameters from the same sources."""

from __future__ import annotations

from datetime import date

import pytest

from shared.events import decode_data

from merchant_testkit.event_stream import generate
from projectors.domain import catalog_products, merchant_products, orders
from query_api.application.documents import MerchantProduct, Order, Product, Stats
from query_api.application.read_models import MERCHANT_PRODUCT_VIEW, ORDER_VIEW, PRODUCT_VIEW
from query_api.application.stats import summarise
from query_api.entrypoints import openapi
from query_api.entrypoints.endpoints import merchant, products


@pytest.fixture(scope="module")
def projected() -> dict[str, list[dict]]:
    """Every product and order state of a generated history, folded as the projectors do."""
    folds = {"product": merchant_products.evolve, "order": orders.evolve}
    states: dict[tuple[str, str], dict] = {}
    for event in generate(800, seed=22):
        if event.aggregate_type in folds:
            key = (event.aggregate_type, event.aggregate_id)
            states[key] = folds[event.aggregate_type](states.get(key), event, decode_data(event))
    by_kind: dict[str, list[dict]] = {"product": [], "order": []}
    for (kind, _), state in states.items():
        by_kind[kind].append(state)
    assert len(by_kind["product"]) > 5 and len(by_kind["order"]) > 5
    return by_kind


def test_projected_products_and_orders_render_as_their_documents(projected):
    for state in projected["product"]:
        MerchantProduct.model_validate(MERCHANT_PRODUCT_VIEW.render(state))
        Product.model_validate(PRODUCT_VIEW.render(catalog_products.view(state)))
    for state in projected["order"]:
        Order.model_validate(ORDER_VIEW.render(state))


def test_stats_render_as_their_document():
    day = {
        "_id": "m1:2026-03-01",
        "merchant_id": "m1",
        "revenue": 750,
        "orders_placed": 2,
        "units_sold": 3,
        "payments_succeeded": 1,
        "payments_failed": 1,
        "shipped_count": 1,
        "processing_seconds_total": 7200,
        "orders_by_status": {"shipped": 1, "placed": 1},
        "top_products": [{"product_id": "p1", "name": "Boots", "units": 3}],
    }
    summary = summarise("m1", date(2026, 3, 1), date(2026, 3, 2), [day])
    assert Stats.model_validate(summary).model_dump(by_alias=True)["from"] == "2026-03-01"


def test_openapi_schemas_and_parameters_come_from_the_declarations():
    document = openapi.build([*products.docs, *merchant.docs])
    schemas = document["components"]["schemas"]
    for doc in [*products.docs, *merchant.docs]:
        assert doc.response in schemas, doc.path
    for item in ("Product", "MerchantProduct", "Order"):
        assert "required" not in schemas[item]  # fields= selects any subset
        assert set(schemas[item]["properties"]) == set(
            {"Product": PRODUCT_VIEW, "MerchantProduct": MERCHANT_PRODUCT_VIEW, "Order": ORDER_VIEW}[item].fields
        )
    assert schemas["Address"]["required"] == ["line1", "city", "postal_code", "country"]  # nested: kept
    orders_params = {p["name"]: p["schema"] for p in document["paths"]["/v1/merchant/orders"]["get"]["parameters"]}
    assert {"status", "open", "product_id", "tracking_number", "min_total", "max_total"} <= set(orders_params)
    assert orders_params["status"]["pattern"].startswith("^(placed|confirmed|paid")
    assert orders_params["sort"]["enum"] == ["newest", "oldest", "total_desc", "total_asc"]
    product_params = {p["name"]: p["schema"] for p in document["paths"]["/v1/merchant/products"]["get"]["parameters"]}
    assert {"sku", "max_stock"} <= set(product_params)
    assert {"updated", "stock", "best_selling"} <= set(product_params["sort"]["enum"])
