from __future__ import annotations

import pytest

from shared.events.products import Money, ProductCreated, ProductDetailsUpdated

from command_api.domain.aggregate import InvalidState
from command_api.domain.product import CurrencyMismatch, InsufficientStock, Product, ProductUnavailable


def created(**overrides) -> ProductCreated:
    fields = dict(sku="A1", name="Boots", category="shoes", price=Money(amount=100, currency="EUR"), stock=3)
    fields.update(overrides)
    return ProductCreated(**fields)


def product(**overrides) -> Product:
    p = Product("p1", "m1")
    p.apply("ProductCreated", created(**overrides))
    return p


def events(p: Product) -> list[str]:
    return [t for t, _ in p.pending]


def test_create_records_one_event_at_version_one():
    p = Product("p1", "m1")
    p.create(created())
    assert p.version == 1
    assert events(p) == ["ProductCreated"]
    assert p.stock == 3 and p.status == "published"


def test_a_product_cannot_be_created_twice():
    with pytest.raises(InvalidState):
        product().create(created())


def test_price_must_be_positive():
    with pytest.raises(ValueError):
        Money(amount=0, currency="EUR")


def test_price_change_records_the_previous_price_and_a_same_price_is_no_event():
    p = product()
    p.change_price(Money(amount=100, currency="EUR"))
    assert events(p) == []
    p.change_price(Money(amount=250, currency="EUR"))
    assert p.pending[0][1].previous_price.amount == 100 and p.price.amount == 250


def test_price_currency_cannot_change():
    with pytest.raises(CurrencyMismatch):
        product().change_price(Money(amount=100, currency="USD"))


def test_only_changed_details_are_recorded():
    p = product()
    p.update_details(ProductDetailsUpdated(name="Boots", category="hiking"))
    assert [d.model_dump(exclude_none=True) for _, d in p.pending] == [{"category": "hiking"}]
    assert p.category == "hiking"


def test_stock_never_goes_negative():
    p = product(stock=3)
    p.adjust_stock(-3, "count")
    assert p.stock == 0
    with pytest.raises(InsufficientStock):
        p.adjust_stock(-1, "damage")
    p.adjust_stock(5, "restock")
    assert p.stock == 5


def test_stock_never_exceeds_its_limit_reserved_units_included():
    from command_api.domain.product import MAX_STOCK, StockLimitExceeded

    p = product(stock=MAX_STOCK)
    p.reserve("o1", 10)
    with pytest.raises(StockLimitExceeded) as raised:
        p.adjust_stock(1, "restock")  # the 10 held for o1 come back if it is cancelled
    assert raised.value.status == 422 and raised.value.details["held"] == MAX_STOCK
    p.adjust_stock(-1, "damage")
    p.adjust_stock(1, "restock")


def test_archived_products_accept_no_changes():
    p = product()
    p.archive()
    for change in (
        lambda: p.adjust_stock(1, "x"),
        p.publish,
        p.unpublish,
        p.archive,
        lambda: p.change_price(Money(amount=5, currency="EUR")),
    ):
        with pytest.raises(InvalidState) as raised:
            change()
        assert raised.value.details["current_state"] == "archived"


def test_publish_and_unpublish_record_only_real_changes():
    p = product(status="draft")
    p.unpublish()
    p.publish()
    p.publish()
    assert events(p) == ["ProductPublished"]


def test_reservation_is_idempotent_per_order_and_bounded_by_stock():
    p = product(stock=3)
    p.reserve("o1", 2)
    p.reserve("o1", 2)  # a retry of the same order holds nothing more
    assert p.stock == 1 and events(p) == ["StockReserved"]
    with pytest.raises(InsufficientStock) as raised:
        p.reserve("o2", 2)
    assert raised.value.details["available"] == 1


def test_release_gives_units_back_once_and_a_released_order_cannot_reserve_again():
    p = product(stock=3)
    p.reserve("o1", 2)
    p.release("o1", "order_cancelled")
    p.release("o1", "order_cancelled")
    assert p.stock == 3 and events(p) == ["StockReserved", "StockReleased"]
    with pytest.raises(InvalidState):
        p.reserve("o1", 2)


def test_release_of_an_order_that_holds_nothing_is_no_event():
    p = product()
    p.release("never", "reservation_expired")
    assert events(p) == []


def test_drafts_cannot_be_ordered():
    with pytest.raises(ProductUnavailable):
        product(status="draft").reserve("o1", 1)
