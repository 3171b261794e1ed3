"""The seeder's simulated history (command_api.seeding.simulation): deterministic, sane
distributions, never overselling, versions and times as the projections expect."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from shared.events import decode_data

from command_api.domain.product import Product
from command_api.seeding import vocabulary
from command_api.seeding.plan import SeedParams
from command_api.seeding.simulation import Simulation

UNTIL = datetime(2026, 11, 1, tzinfo=UTC)


def params(**overrides) -> SeedParams:
    return SeedParams(
        **{
            "merchants": 3,
            "products": 400,
            "orders": 1000,
            "until": UNTIL,
            "seed": 7,
            "prefix": "unit",
            "batch": 2000,
            **overrides,
        }
    )


def run(p: SeedParams) -> tuple[Simulation, list]:
    sim = Simulation(p)
    windows = list(sim.windows())
    sim.close_catalogue()
    return sim, windows


@pytest.fixture(scope="module")
def seeded():
    return run(params())


def events_of(windows) -> list:
    return [e for w in windows for e in w.events]


def test_the_same_seed_gives_the_same_history_and_another_seed_another(seeded):
    _, windows = seeded
    again = events_of(run(params())[1])
    assert [e.model_dump() for e in events_of(windows)] == [e.model_dump() for e in again]
    other = events_of(run(params(seed=8))[1])
    assert [e.event_id for e in other][:50] != [e.event_id for e in again][:50]


def test_the_window_size_changes_how_events_are_committed_not_which(seeded):
    _, windows = seeded
    small = run(params(batch=300))[1]
    assert len(small) > len(windows)
    assert [e.model_dump() for e in events_of(small)] == [e.model_dump() for e in events_of(windows)]


def test_versions_are_contiguous_commits_unique_and_time_runs_forward(seeded):
    sim, windows = seeded
    last_version: dict[str, int] = defaultdict(int)
    last_time: dict[str, datetime] = {}
    command_ids, commit_ids = set(), set()
    for window in windows:
        for commit in window.commits:
            assert commit.command_id not in command_ids and commit.id not in commit_ids
            command_ids.add(commit.command_id)
            commit_ids.add(commit.id)
            for event in commit.events:
                assert event.aggregate_version == last_version[event.aggregate_id] + 1
                last_version[event.aggregate_id] = event.aggregate_version
                assert event.occurred_at >= last_time.get(event.aggregate_id, event.occurred_at)
                last_time[event.aggregate_id] = event.occurred_at
                assert sim.start - timedelta(days=1) <= event.occurred_at <= UNTIL
        published = [e.occurred_at for e in window.events]
        assert published == sorted(published)  # published in the order things happened
    assert dict(last_version) == sim.heads


def test_stock_is_never_oversold(seeded):
    """Replaying every product's events through the aggregate: each reservation fits the
    stock at its moment, and the final stock is initial + restocks - held units."""
    sim, windows = seeded
    products: dict[str, Product] = {}
    held: Counter[str] = Counter()
    for event in events_of(windows):
        if event.aggregate_type != "product":
            continue
        product = products.setdefault(event.aggregate_id, Product(event.aggregate_id, event.merchant_id))
        data = decode_data(event)
        if event.type == "StockReserved":
            assert data.quantity <= product.stock, "reserved more than was in stock"
            held[event.aggregate_id] += data.quantity
        elif event.type == "StockReleased":
            held[event.aggregate_id] -= data.quantity
        product.apply(event.type, data)
        assert product.stock >= 0
    initial = {e.aggregate_id: e.data["stock"] for e in events_of(windows) if e.type == "ProductCreated"}
    restocked: Counter[str] = Counter()
    for e in events_of(windows):
        if e.type == "ProductStockAdjusted":
            restocked[e.aggregate_id] += e.data["delta"]
    assert restocked, "short products were restocked, not oversold"
    for product_id, product in products.items():
        assert product.stock == initial[product_id] + restocked[product_id] - held[product_id]
        assert product.stock == sim.products()[product_id].stock


def test_orders_reference_their_merchants_products_and_add_up(seeded):
    sim, windows = seeded
    owner = {e.aggregate_id: e.merchant_id for e in events_of(windows) if e.type == "ProductCreated"}
    placed = [e for e in events_of(windows) if e.type == "OrderPlaced"]
    assert len(placed) == sum(m.orders for m in sim.merchants) == params().orders - sim.skipped_orders
    for event in placed:
        data = decode_data(event)
        assert {owner[line.product_id] for line in data.lines} == {event.merchant_id}
        assert data.total == sum(line.line_total for line in data.lines)
        assert data.item_count == sum(line.quantity for line in data.lines)
        assert "@example." in data.customer.email
    assert sum(len(e.data["lines"]) > 1 for e in placed) / len(placed) > 0.3  # multi-line baskets


def test_distributions_look_like_a_shop(seeded):
    sim, windows = seeded
    created = [e.data for e in events_of(windows) if e.type == "ProductCreated"]
    categories = Counter(d["category"] for d in created)
    assert categories.most_common(1)[0][0] == "Clothing"  # the biggest share (22 %)
    assert categories["Clothing"] > 2 * categories["Office"]
    assert 0.15 < categories["Clothing"] / len(created) < 0.30
    prices = [d["price"]["amount"] for d in created if d["category"] == "Electronics"]
    assert 4_000 < statistics.median(prices) < 16_000  # log-normal around 89.00
    assert all(p % 100 == 99 for p in prices)
    assert sum(d["status"] == "published" for d in created) / len(created) > 0.85
    statuses = Counter()
    for merchant in sim.merchants:
        statuses.update(merchant.orders_by_status)
    total = sum(statuses.values())
    assert statuses["delivered"] / total > 0.6
    assert 0.04 < statuses["cancelled"] / total < 0.15
    assert statuses["refunded"] > 0 and statuses["placed"] + statuses["paid"] + statuses["shipped"] > 0
    assert any(e.type == "OrderPaymentFailed" for e in events_of(windows))
    months = Counter(e.occurred_at.strftime("%Y-%m") for e in events_of(windows) if e.type == "OrderPlaced")
    assert len(months) >= 6 and months[max(months)] > 0
    sizes = sorted((m.products for m in sim.merchants), reverse=True)
    assert sizes[0] > sizes[-1]  # a few big merchants, a long tail


def test_open_orders_hold_their_units_so_the_api_can_cancel_them(seeded):
    """A cancel gives back what the order's products hold for it (placement.cancel_order):
    every order still cancellable holds units, and no cancelled one does."""
    sim, windows = seeded
    held = {order_id for product in sim.products().values() for order_id in product.reservations}
    last = {}
    for e in events_of(windows):
        if e.aggregate_type == "order" and e.type != "OrderPaymentFailed":
            last[e.aggregate_id] = e.type
    cancellable = {o for o, t in last.items() if t in ("OrderPlaced", "OrderConfirmed", "OrderPaid")}
    cancelled = {o for o, t in last.items() if t == "OrderCancelled"}
    assert cancellable and cancellable <= held
    assert cancelled and not cancelled & held


def test_prices_are_positive_minor_units_for_every_category():
    import random

    rng = random.Random(1)
    for category, _, median in vocabulary.CATEGORIES:
        amounts = [vocabulary.price_amount(rng, category) for _ in range(400)]
        assert min(amounts) >= 99
        assert median / 2 < statistics.median(amounts) < median * 2
