"""A random but *valid* stream of domain events, and ways to put it where the system reads.

``generate(n, seed)`` simulates merchants, products (with stock reservations for orders)
and orders through their lifecycle, with per-aggregate versions that follow each other —
what the command side (issue 3) would commit. ``store`` writes them as event-store
commits (the document shape of ``command_api.adapters.event_store``) and ``produce`` puts them on
Kafka like the publisher does (key = aggregate id, batched sends).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bson import ObjectId

from shared.event_store_reader import COMMITS
from shared.events import EventEnvelope
from shared.topics import TOPIC_BY_AGGREGATE

CATEGORIES = ("shoes", "hats", "bags", "shirts", "socks", "coats")
NAMES = ("Boots", "Sneakers", "Beanie", "Tote", "Polo", "Parka", "Scarf", "Sandals")
START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@dataclass
class _Aggregate:
    id: str
    merchant_id: str
    version: int = 0
    fields: dict = field(default_factory=dict)


@dataclass
class Simulation:
    rng: random.Random
    clock: datetime = START
    events: list[EventEnvelope] = field(default_factory=list)
    merchants: list[_Aggregate] = field(default_factory=list)
    products: list[_Aggregate] = field(default_factory=list)
    orders: list[_Aggregate] = field(default_factory=list)

    def emit(self, kind: str, agg: _Aggregate, type_: str, data: dict) -> None:
        self.clock += timedelta(milliseconds=self.rng.randint(1, 60_000))
        agg.version += 1
        self.events.append(
            EventEnvelope(
                type=type_,
                aggregate_type=kind,
                aggregate_id=agg.id,
                aggregate_version=agg.version,
                merchant_id=agg.merchant_id,
                occurred_at=self.clock,
                correlation_id=uuid.uuid4().hex,
                data=data,
            )
        )

    # -- merchants & products --------------------------------------------------------
    def new_merchant(self) -> None:
        m = uuid.uuid4().hex[:12]
        agg = _Aggregate(f"m_{m}", f"m_{m}")
        self.merchants.append(agg)
        self.emit("merchant", agg, "MerchantCreated", {"name": f"Shop {m[:4]}"})

    def new_product(self) -> None:
        merchant = self.rng.choice(self.merchants)
        agg = _Aggregate(f"p_{uuid.uuid4().hex[:16]}", merchant.id)
        stock = self.rng.randint(0, 40)
        agg.fields = {
            "stock": stock,
            "price": self.rng.randint(100, 20_000),
            "name": self.rng.choice(NAMES),
            "sku": f"SKU-{uuid.uuid4().hex[:8]}",
            "status": "published",
        }
        if self.rng.random() < 0.15:
            agg.fields["status"] = "draft"
        self.products.append(agg)
        self.emit(
            "product",
            agg,
            "ProductCreated",
            {
                "sku": agg.fields["sku"],
                "name": agg.fields["name"],
                "category": self.rng.choice(CATEGORIES),
                "price": {"amount": agg.fields["price"], "currency": "EUR"},
                "stock": stock,
                "status": agg.fields["status"],
                "attributes": {"colour": self.rng.choice(("red", "blue"))},
            },
        )

    def change_product(self) -> None:
        p = self.rng.choice(self.products)
        if p.fields["status"] == "archived":
            return
        roll = self.rng.random()
        if roll < 0.25:
            old, p.fields["price"] = p.fields["price"], self.rng.randint(100, 20_000)
            self.emit(
                "product",
                p,
                "ProductPriceChanged",
                {
                    "price": {"amount": p.fields["price"], "currency": "EUR"},
                    "previous_price": {"amount": old, "currency": "EUR"},
                },
            )
        elif roll < 0.5:
            delta = self.rng.randint(-p.fields["stock"], 30)
            p.fields["stock"] += delta
            self.emit(
                "product", p, "ProductStockAdjusted", {"delta": delta, "reason": "count", "stock": p.fields["stock"]}
            )
        elif roll < 0.65:
            new = self.rng.choice(NAMES) + " " + self.rng.choice(("Pro", "Lite", "Max"))
            self.emit(
                "product",
                p,
                "ProductDetailsUpdated",
                {"name": new, "category": self.rng.choice(CATEGORIES)} if roll < 0.55 else {"name": new},
            )
        elif roll < 0.8:
            kind = "ProductUnpublished" if p.fields["status"] == "published" else "ProductPublished"
            p.fields["status"] = "draft" if kind == "ProductUnpublished" else "published"
            self.emit("product", p, kind, {})
        elif roll < 0.84:
            p.fields["status"] = "archived"
            self.emit("product", p, "ProductArchived", {})
        else:
            m = next(m for m in self.merchants if m.id == p.merchant_id)
            self.emit("merchant", m, "MerchantRenamed", {"name": f"Shop {uuid.uuid4().hex[:4]}"})

    # -- orders ----------------------------------------------------------------------
    def place_order(self) -> None:
        merchant = self.rng.choice(self.merchants)
        candidates = [
            p
            for p in self.products
            if p.merchant_id == merchant.id and p.fields["stock"] > 0 and p.fields["status"] == "published"
        ]
        if not candidates:
            return
        order = _Aggregate(f"o_{uuid.uuid4().hex[:16]}", merchant.id)
        lines = []
        for p in self.rng.sample(candidates, min(len(candidates), self.rng.randint(1, 3))):
            qty = self.rng.randint(1, min(3, p.fields["stock"]))
            p.fields["stock"] -= qty
            self.emit(
                "product", p, "StockReserved", {"order_id": order.id, "quantity": qty, "stock": p.fields["stock"]}
            )
            lines.append(
                {
                    "product_id": p.id,
                    "sku": p.fields["sku"],
                    "name": p.fields["name"],
                    "quantity": qty,
                    "unit_price": {"amount": p.fields["price"], "currency": "EUR"},
                    "line_total": p.fields["price"] * qty,
                }
            )
        order.fields = {"status": "placed", "lines": lines, "total": sum(li["line_total"] for li in lines)}
        self.orders.append(order)
        self.emit(
            "order",
            order,
            "OrderPlaced",
            {
                "customer": {"email": f"c{self.rng.randint(1, 50)}@example.com", "name": "Customer"},
                "shipping_address": {
                    "name": "C",
                    "line1": "1 Road",
                    "city": "Town",
                    "postal_code": "1000",
                    "country": "BE",
                },
                "lines": lines,
                "currency": "EUR",
                "item_count": sum(li["quantity"] for li in lines),
                "total": order.fields["total"],
            },
        )

    def advance_order(self) -> None:
        open_orders = [o for o in self.orders if o.fields["status"] not in ("delivered", "cancelled", "refunded")]
        if not open_orders:
            return
        o = self.rng.choice(open_orders)
        status, roll = o.fields["status"], self.rng.random()
        if status in ("placed", "confirmed") and roll < 0.12:
            self.cancel(o)
        elif status == "placed":
            self.move(o, "confirmed", "OrderConfirmed", {})
        elif status == "confirmed" and roll < 0.25:
            self.emit("order", o, "OrderPaymentFailed", {"reason": "card declined"})
        elif status == "confirmed":
            self.move(o, "paid", "OrderPaid", {"payment_reference": uuid.uuid4().hex[:10], "amount": o.fields["total"]})
        elif status == "paid":
            self.move(o, "shipped", "OrderShipped", {"carrier": "DHL", "tracking_number": uuid.uuid4().hex[:12]})
        elif status == "shipped" and roll < 0.1:
            self.move(o, "refunded", "OrderRefunded", {"amount": o.fields["total"], "reason": "lost"})
        elif status == "shipped":
            self.move(o, "delivered", "OrderDelivered", {})

    def move(self, order: _Aggregate, status: str, type_: str, data: dict) -> None:
        order.fields["status"] = status
        self.emit("order", order, type_, data)

    def cancel(self, order: _Aggregate) -> None:
        self.move(order, "cancelled", "OrderCancelled", {"reason": "customer asked"})
        for line in order.fields["lines"]:
            p = next(p for p in self.products if p.id == line["product_id"])
            p.fields["stock"] += line["quantity"]
            self.emit(
                "product",
                p,
                "StockReleased",
                {
                    "order_id": order.id,
                    "quantity": line["quantity"],
                    "stock": p.fields["stock"],
                    "reason": "order_cancelled",
                },
            )


def generate(n: int, seed: int = 0, merchants: int = 4) -> list[EventEnvelope]:
    sim = Simulation(random.Random(seed))
    for _ in range(merchants):
        sim.new_merchant()
    for _ in range(10):
        sim.new_product()
    while len(sim.events) < n:
        roll = sim.rng.random()
        if roll < 0.08:
            sim.new_product()
        elif roll < 0.3:
            sim.change_product()
        elif roll < 0.5:
            sim.place_order()
        else:
            sim.advance_order()
    return sim.events[:n]


def commit_document(event: EventEnvelope) -> dict:
    return {
        "_id": ObjectId(),
        "aggregate_type": event.aggregate_type,
        "aggregate_id": event.aggregate_id,
        "version": event.aggregate_version,
        "last_version": event.aggregate_version,
        "merchant_id": event.merchant_id,
        "command_id": uuid.uuid4().hex,
        "committed_at": datetime.now(UTC),
        "published": True,
        "events": [event.model_dump(mode="json")],
    }


async def store(db, events: list[EventEnvelope]) -> None:
    """Append the events to the event store, one commit each (as the command side does)."""
    docs = [commit_document(e) for e in events]
    for start in range(0, len(docs), 5000):
        await db[COMMITS].insert_many(docs[start : start + 5000], ordered=False)


async def produce(producer, settings, events: list[EventEnvelope]) -> None:
    """Produce like the publisher: key = aggregate id, so per-aggregate order holds."""
    sends = [
        await producer.send(
            settings.topic(TOPIC_BY_AGGREGATE[e.aggregate_type]),
            e.to_json(),
            key=e.kafka_key(),
            headers=e.kafka_headers(),
        )
        for e in events
    ]
    for sent in sends:
        await sent
