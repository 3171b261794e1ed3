"""The command API's cache of recent aggregates (``Repository``) stays within
``aggregate_cache_size`` entries, and an entry costs what settings.py says: a placed order
keeps only its products' ids (not its lines), a product its fields and reservations."""

from __future__ import annotations

import gc
import tracemalloc
import uuid

from cachetools import LRUCache

from shared.events import orders as order_events
from shared.events import products as product_events
from shared.settings import CommandApiSettings

from command_api.adapters.memory.event_store import InMemoryEventStore
from command_api.application.repository import CommandContext, Repository
from command_api.bootstrap import bootstrap_in_memory
from command_api.domain.order import Order
from command_api.domain.product import Product

MONEY = {"amount": 1234, "currency": "EUR"}


def _placed_order(i: int) -> Order:
    order = Order(str(uuid.uuid4()), "m-" + uuid.uuid4().hex[:12])
    lines = [
        order_events.OrderLine(
            product_id=str(uuid.uuid4()),
            sku=f"SKU-{i}-{k}",
            name=f"Product {k}",
            unit_price=MONEY,
            quantity=2,
            line_total=2468,
        )
        for k in range(2)
    ]
    placed = order_events.OrderPlaced(
        customer={"email": f"buyer{i}@example.com", "name": "Load Buyer"},
        shipping_address={
            "name": "Load Buyer",
            "line1": "1 Street",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
        lines=lines,
        currency="EUR",
        item_count=4,
        total=4936,
    )
    order.apply("OrderPlaced", placed)
    return order


def _product(i: int) -> Product:
    product = Product(str(uuid.uuid4()), "m-" + uuid.uuid4().hex[:12])
    created = product_events.ProductCreated(
        sku=f"SKU-{i}",
        name=f"Product {i}",
        description="d" * 200,
        category="shoes",
        price=MONEY,
        stock=100,
        attributes={"color": "red", "size": "M", "material": "cotton"},
    )
    product.apply("ProductCreated", created)
    return product


def _bytes_per_cached(make, n: int = 1000) -> float:
    cache: LRUCache = LRUCache(maxsize=n)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(n):
            aggregate = make(i)
            cache[aggregate.id] = aggregate
        gc.collect()
        return (tracemalloc.get_traced_memory()[0] - before) / n
    finally:
        tracemalloc.stop()


def test_a_cached_order_keeps_its_product_ids_not_its_lines():
    order = _placed_order(1)
    assert len(order.product_ids) == 2 and not hasattr(order, "lines")
    assert _bytes_per_cached(_placed_order) < 1_000  # measured ~0.7 KB; with its lines ~4.1 KB


def test_a_cached_product_costs_about_what_settings_say():
    assert _bytes_per_cached(_product) < 2_000  # measured ~1.6 KB


def test_the_setting_bounds_the_repository_cache():
    side = bootstrap_in_memory(CommandApiSettings(aggregate_cache_size=3))
    assert side.repository._recent.maxsize == 3


async def test_the_repository_keeps_at_most_its_bound_of_aggregates():
    repo = Repository(InMemoryEventStore(), None, cache_size=5)
    for i in range(20):
        product = Product(str(uuid.uuid4()), "m-bound")
        product.create(
            product_events.ProductCreated(
                sku=f"B{i}", name="Cup", category="c", price=product_events.Money(**MONEY), stock=1
            )
        )
        await repo.create(product, CommandContext("m-bound", uuid.uuid4().hex, "c"))
    assert len(repo._recent) == 5
