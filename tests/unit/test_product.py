from __future__ import annotations

import pytest

from command_api.domain.aggregate import InvalidState
from command_api.domain.product import Product
from shared.events.products import Money, ProductCreated


def created(**overrides) -> ProductCreated:
    fields = dict(sku="A1", name="Boots", category="shoes", price=Money(amount=100, currency="EUR"), stock=3)
    fields.update(overrides)
    return ProductCreated(**fields)


def test_create_records_one_event_at_version_one():
    product = Product("p1", "m1")
    product.create(created())
    assert product.version == 1
    assert [t for t, _ in product.pending] == ["ProductCreated"]
    assert product.stock == 3 and product.status == "published"


def test_a_product_cannot_be_created_twice():
    product = Product("p1", "m1")
    product.apply("ProductCreated", created())
    with pytest.raises(InvalidState):
        product.create(created())


def test_price_must_be_positive():
    with pytest.raises(ValueError):
        Money(amount=0, currency="EUR")
