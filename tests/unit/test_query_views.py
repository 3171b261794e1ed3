"""The query API's views list only fields the projectors write (``shared/read_models.py``):
a field dropped from a read model must leave the API too (``reserved`` once lingered)."""

from __future__ import annotations

import pytest

from projectors.domain import catalog_products, merchant_products, orders
from query_api.application.read_models import MERCHANT_PRODUCT_VIEW, ORDER_VIEW, PRODUCT_VIEW, View
from tests.unit.test_catalog_projection import CREATED, PLACED, event, fold

PRODUCT = fold(merchant_products, [event("ProductCreated", 1, CREATED)])
ORDER = fold(orders, [event("OrderPlaced", 1, PLACED, aggregate="o1", kind="order")])


@pytest.mark.parametrize(
    ("view", "document"),
    [
        (PRODUCT_VIEW, catalog_products.view(PRODUCT)),
        (MERCHANT_PRODUCT_VIEW, PRODUCT),
        (ORDER_VIEW, ORDER),
    ],
    ids=["catalog_products", "merchant_products", "orders"],
)
def test_every_served_field_is_projected(view: View, document: dict):
    stored = {"id" if key == "_id" else key for key in document}
    assert set(view.fields) - stored == set()


def test_storefront_view_shows_no_private_field():
    assert not set(PRODUCT_VIEW.fields) & set(catalog_products.PRIVATE_FIELDS)
