"""The seeded history: a discrete-event simulation over the real aggregates.

Merchants, products and orders are the write side's own aggregates (``command_api.domain``);
every change is one of their decision methods, so the events are exactly what the command
API would record. Actions (create a product, place an order, pay, ship, deliver, cancel,
refund, archive) wait in a heap by time and run in time order, so every aggregate's
events are chronological and each event's ``occurred_at`` is its moment in the story —
in the past, as ``merchant_stats`` expects (it buckets orders by the day they were placed).

**No oversell.** Stock is decided by ``Product.reserve``, which refuses a quantity above
the stock (``InsufficientStock``) exactly as it does for the API. Before reserving, the
simulation restocks a short product (``ProductStockAdjusted``, reason ``restock``) or
drops the line, so the domain never has to refuse; a cancelled order gives its units
back with ``Product.release``. Since the actions run in time order on one aggregate
state, the stock in every ``StockReserved``/``StockReleased`` event is the true level
at that moment and never negative (tests/unit/test_seed_simulation.py checks it).

The history is cut into *windows* of about ``batch`` events. A window holds one commit per
aggregate it touched (that aggregate's events of the window, in version order) and every
event in the order it happened — the order ``writer`` publishes them in.
"""

from __future__ import annotations

import heapq
import random
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from shared.events import EventEnvelope
from shared.events import orders as order_events
from shared.events import products as product_events

from command_api.application.ports import Commit
from command_api.application.repository import pending_envelopes
from command_api.domain.aggregate import Aggregate
from command_api.domain.merchant import Merchant
from command_api.domain.order import Order
from command_api.domain.product import Product
from command_api.seeding import vocabulary as vocab
from command_api.seeding.lifecycle import Step, fate
from command_api.seeding.plan import MerchantPlan, SeedParams, Window

_NAMESPACE = uuid.UUID("9b0f6c1e-53a4-4f0e-8f7a-3c2d9e1b7a44")
CURRENCIES = ("USD", "EUR", "GBP")


@dataclass
class _OrderRun:
    order: Order
    command_id: str
    correlation_id: str
    steps: list[Step]
    merchant: MerchantPlan


class Simulation:
    def __init__(self, params: SeedParams) -> None:
        self.params = params
        self.rng = random.Random(f"merchant-seed:{params.prefix}:{params.seed}")
        # Commit ids draw from their own stream, so the window size does not change the data.
        self._commit_rng = random.Random(f"merchant-seed:{params.prefix}:{params.seed}:commits")
        self.until = params.until
        self.start = params.until - timedelta(days=30 * params.months)
        self.merchants = [self._plan_merchant(i) for i in range(params.merchants)]
        self.heads: dict[str, int] = {}  # aggregate id -> last version
        self.skipped_orders = 0  # planned orders that found nothing to buy (no product yet)
        self._products: dict[str, Product] = {}
        self._sellable: list[list[str]] = [[] for _ in self.merchants]
        self._orders: dict[str, _OrderRun] = {}
        self._heap: list[tuple[datetime, int, str, tuple[Any, ...]]] = []
        self._seq = 0
        self._pending: dict[str, list[EventEnvelope]] = {}
        self._events: list[EventEnvelope] = []
        self._created = self._placed = 0
        self._plan_products()
        self._plan_orders()

    # -- ids and time ----------------------------------------------------------------
    def _id(self, kind: str, n: int) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{self.params.run_id}:{kind}:{n}"))

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _at(self, when: datetime, action: str, *args: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, action, args))

    # -- the plan --------------------------------------------------------------------
    def _plan_merchant(self, index: int) -> MerchantPlan:
        return MerchantPlan(
            index,
            self._id("merchant", index),
            vocab.merchant_name(self.rng, self.params.prefix, index),
            CURRENCIES[index % len(CURRENCIES)],
        )

    def _plan_products(self) -> None:
        # A few big merchants and a long tail (weights 1/(rank+1)^0.8).
        weights = [1 / (i + 1) ** 0.8 for i in range(len(self.merchants))]
        span = self.until - self.start
        for n in range(self.params.products):
            merchant = self.rng.choices(self.merchants, weights=weights)[0]
            # Most of the catalogue exists when the history starts; the rest arrives over time.
            offset = (
                self.rng.uniform(0, 86_400)
                if self.rng.random() < 0.6
                else self.rng.uniform(0, 0.8) * span.total_seconds()
            )
            status = self.rng.choices(("published", "draft", "archived"), weights=(90, 7, 3))[0]
            product_id = self._id("product", n)
            if status != "draft":
                merchant.product_ids.append(product_id)
            self._at(self.start + timedelta(seconds=offset), "create_product", n, product_id, merchant, status)

    def _plan_orders(self) -> None:
        weights = [len(m.product_ids) for m in self.merchants]
        if not any(weights):
            return
        first, span = self.start + timedelta(days=1), (self.until - self.start - timedelta(days=1)).total_seconds()
        for n in range(self.params.orders):
            merchant = self.rng.choices(self.merchants, weights=weights)[0]
            # Business grows: more orders towards the end of the history (density ~ t^0.4).
            self._at(first + timedelta(seconds=span * self.rng.random() ** 0.7), "place_order", n, merchant)

    # -- running it ------------------------------------------------------------------
    def windows(self) -> Iterator[Window]:
        """The whole history, window by window; merchants alone in the first one."""
        for merchant in self.merchants:
            aggregate = Merchant(merchant.merchant_id, merchant.merchant_id)
            aggregate.create(merchant.name)
            self._emit(
                aggregate, self.start - timedelta(days=1), str(self._uuid()), f"seed:{self.params.run_id}:merchant"
            )
        index = 0
        yield self._flush(index)
        while self._heap:
            when, _, action, args = heapq.heappop(self._heap)
            getattr(self, f"_{action}")(when, *args)
            if len(self._events) >= self.params.batch:
                index += 1
                yield self._flush(index)
        for run in list(self._orders.values()):
            self._finish(run)
        if self._events:
            yield self._flush(index + 1)

    def _emit(self, aggregate: Aggregate, at: datetime, correlation_id: str, causation_id: str) -> None:
        envelopes = pending_envelopes(
            aggregate,
            aggregate.merchant_id,
            correlation_id,
            causation_id,
            occurred_at=at,
            event_ids=[self._uuid() for _ in aggregate.pending],
        )
        aggregate.pending.clear()
        self._pending.setdefault(aggregate.id, []).extend(envelopes)
        self._events.extend(envelopes)
        self.heads[aggregate.id] = envelopes[-1].aggregate_version

    def _flush(self, index: int) -> Window:
        commits = []
        for aggregate_id, events in self._pending.items():
            last = events[-1]
            # A time-ordered, seeded ObjectId: the store's _id order is the story's order.
            object_id = ObjectId(struct.pack(">I", int(last.occurred_at.timestamp())) + self._commit_rng.randbytes(8))
            commits.append(
                Commit(
                    aggregate_type=last.aggregate_type,
                    aggregate_id=aggregate_id,
                    merchant_id=last.merchant_id,
                    command_id=f"seed:{self.params.run_id}:{aggregate_id}:{events[0].aggregate_version}",
                    events=events,
                    committed_at=last.occurred_at,
                    id=object_id,
                )
            )
        window = Window(index, commits, self._events, self._created, self._placed)
        self._pending, self._events, self._created, self._placed = {}, [], 0, 0
        return window

    # -- products --------------------------------------------------------------------
    def _create_product(self, at: datetime, n: int, product_id: str, merchant: MerchantPlan, status: str) -> None:
        rng, category = self.rng, vocab.category(self.rng)
        product = Product(product_id, merchant.merchant_id)
        product.create(
            product_events.ProductCreated(
                sku=f"{self.params.prefix}-{self.params.seed}-{n:07d}",
                name=vocab.product_name(rng, category),
                description=f"{category} from {merchant.name}.",
                category=category,
                price=product_events.Money(amount=vocab.price_amount(rng, category), currency=merchant.currency),
                stock=vocab.initial_stock(rng),
                attributes=vocab.attributes(rng, category),
                tags=vocab.tags(rng),
                status="draft" if status == "draft" else "published",
            )
        )
        self._emit(product, at, str(self._uuid()), f"seed:{self.params.run_id}:product:{n}")
        self._products[product_id] = product
        self._created += 1
        if status != "draft":
            self._sellable[merchant.index].append(product_id)
        if status == "archived":
            later = at + timedelta(days=rng.uniform(7, 90))
            if later <= self.until:
                self._at(later, "archive_product", n, product_id, merchant)

    def _archive_product(self, at: datetime, n: int, product_id: str, merchant: MerchantPlan) -> None:
        product = self._products[product_id]
        product.archive()
        self._emit(product, at, str(self._uuid()), f"seed:{self.params.run_id}:product:{n}:archive")
        self._sellable[merchant.index].remove(product_id)

    def _pick(self, sellable: list[str]) -> str:
        # Popularity is skewed: the earliest products of a merchant are its bestsellers.
        return sellable[int(len(sellable) * self.rng.random() ** 2.5)]

    def _reserve(
        self, product: Product, order_id: str, quantity: int, at: datetime, correlation_id: str, command_id: str
    ) -> bool:
        if product.stock < quantity:
            if self.rng.random() < 0.15:
                return False  # the customer drops this line: sold out
            product.adjust_stock(quantity + int(self.rng.lognormvariate(3.9, 0.5)), "restock")
            self._emit(product, at, correlation_id, f"{command_id}:restock:{product.id}")
        product.reserve(order_id, quantity)  # refuses to oversell, as for the API
        self._emit(product, at, correlation_id, f"{command_id}:reserve:{product.id}")
        return True

    # -- orders ----------------------------------------------------------------------
    def _place_order(self, at: datetime, n: int, merchant: MerchantPlan) -> None:
        sellable = self._sellable[merchant.index]
        if not sellable:
            self.skipped_orders += 1
            return
        order_id, command_id, correlation_id = (
            self._id("order", n),
            f"seed:{self.params.run_id}:order:{n}",
            str(self._uuid()),
        )
        wanted = {self._pick(sellable): vocab.quantity(self.rng) for _ in range(vocab.line_count(self.rng))}
        lines = []
        for product_id, quantity in wanted.items():
            product = self._products[product_id]
            if self._reserve(product, order_id, quantity, at, correlation_id, command_id):
                assert product.price is not None
                lines.append(
                    order_events.OrderLine(
                        product_id=product_id,
                        sku=product.sku,
                        name=product.name,
                        unit_price=product.price,
                        quantity=quantity,
                        line_total=product.price.amount * quantity,
                    )
                )
        if not lines:
            self.skipped_orders += 1
            return
        who = vocab.customer(self.rng, merchant.currency, self.rng.randrange(max(1, self.params.orders // 3)))
        order = Order(order_id, merchant.merchant_id)
        order.place(
            order_events.OrderPlaced(
                customer=order_events.Customer(email=who.email, name=who.name),
                shipping_address=order_events.Address(**who.address),
                lines=lines,
                currency=merchant.currency,
                item_count=sum(line.quantity for line in lines),
                total=sum(line.line_total for line in lines),
            )
        )
        self._emit(order, at, correlation_id, command_id)
        self._placed += 1
        run = _OrderRun(order, command_id, correlation_id, fate(self.rng), merchant)
        self._orders[order_id] = run
        self._next_step(run, at)

    def _next_step(self, run: _OrderRun, now: datetime) -> None:
        if not run.steps:
            return self._finish(run)
        when = now + timedelta(seconds=run.steps[0].delay_seconds)
        if when > self.until:
            return self._finish(run)  # the story ends before this step: the order stays open
        self._at(when, "order_step", run.order.id)

    def _order_step(self, at: datetime, order_id: str) -> None:
        run = self._orders[order_id]
        step, order = run.steps.pop(0), run.order
        step.apply(order, self.rng)
        self._emit(order, at, run.correlation_id, f"{run.command_id}:{step.name}")
        if step.name == "cancel":  # the stock goes back, line by line (placement.release)
            for product_id in order.product_ids:
                product = self._products[product_id]
                product.release(order_id, "order_cancelled")
                if product.pending:
                    self._emit(product, at, run.correlation_id, f"{run.command_id}:release:{product_id}")
        self._next_step(run, at)

    def _finish(self, run: _OrderRun) -> None:
        order, merchant = run.order, run.merchant
        del self._orders[order.id]
        merchant.orders += 1
        merchant.orders_by_status[str(order.status)] += 1
        merchant.revenue += 0 if order.status == "refunded" else order.paid_amount

    # -- the end ---------------------------------------------------------------------
    def products(self) -> dict[str, Product]:
        return self._products

    def close_catalogue(self) -> None:
        """Per merchant: products, visible (published) products and units in stock at the end."""
        by_id = {m.merchant_id: m for m in self.merchants}
        for product in self._products.values():
            merchant = by_id[product.merchant_id]
            merchant.products += 1
            merchant.visible_products += product.status == "published"
            merchant.stock_units += product.stock
