"""Analytics roll-ups the dashboards need beyond the projectors' daily stats, kept by
increments (never recomputed from the orders).

Per Kafka batch of order events (``workers.entrypoints.analytics_events``):

- an order's **fact** (``analytics_order_facts``) says what it contributes once placed —
  week, month, currency, total, lines, customer — and whether that was counted already
  and whether it still counts as sales (cancelled, expired and refunded orders count in the order
  series, not in sales nor in top products);
- ``increments`` (pure) turns the batch into increments of one **counters** document per
  merchant (orders and sales per week, month and currency; units and sales per product)
  and of one document per merchant and **customer** (its number of orders);
- **exactly once**: each counters and customer document keeps, per partition, the offset
  of the last event it counted, and is updated only from the offsets read before (a
  conditional update). A redelivered batch — re-cut or not — counts nothing twice, and a
  consumer racing another after a rebalance fails and is redelivered. An event published
  twice (at-least-once) sits at two offsets: its fact says it was counted;
- the read model ``merchant_analytics`` is **derived** from the counters (one read of the
  counters, two counts of the merchant's customers, one replace), every few seconds for
  the merchants that changed.

The counters are written before the facts: a crash in between leaves offsets that skip
the redelivered events and facts that are then written as they should have been.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from shared.events import EventEnvelope, decode_data_as
from shared.events.orders import OrderPlaced
from shared.mongo import Document
from shared.worker_read_models import MerchantAnalytics, MonthlySales, TopProduct, WeeklySales

from workers.application.jobs import Job, job_id_for

FACTS = "analytics_order_facts"
COUNTERS = "analytics_counters"
CUSTOMERS = "analytics_customers"
DIRTY = "analytics_dirty"
ORDER_EVENTS = {"OrderPlaced", "OrderCancelled", "OrderExpired", "OrderRefunded"}
NOT_SALES = ("cancelled", "expired", "refunded")
_ENDED = {"OrderCancelled": "cancelled", "OrderExpired": "expired", "OrderRefunded": "refunded"}
TOP_PRODUCTS = 10

Fact = Document
Offsets = dict[str, int]  # "p<partition>" -> the last offset counted


def analytics_job(event: EventEnvelope) -> Job | None:
    """An analytics job (for ``jobs.analytics.*`` kept by earlier versions)."""
    if event.type not in ORDER_EVENTS:
        return None
    return Job(
        job_id=job_id_for(event.event_id, "analytics.record"),
        kind="analytics",
        action="record",
        merchant_id=event.merchant_id,
        correlation_id=event.correlation_id,
        key=event.aggregate_id,
        payload=event.model_dump(mode="json"),
    )


def fact_update(event: EventEnvelope) -> Fact:
    """The ``$set`` an order event makes on its fact (pure): the whole fact for
    ``OrderPlaced``, the status for a cancellation, an expiry or a refund."""
    if event.type == "OrderPlaced":
        order = decode_data_as(event, OrderPlaced)
        placed: datetime = event.occurred_at
        year, week, _ = placed.isocalendar()
        return {
            "merchant_id": event.merchant_id,
            "placed_at": placed,
            "week": f"{year}-W{week:02d}",
            "month": placed.strftime("%Y-%m"),
            "currency": order.currency,
            "total": order.total,
            "customer": order.customer.email.lower(),
            "lines": [
                {
                    "product_id": line.product_id,
                    "name": line.name,
                    "quantity": line.quantity,
                    "line_total": line.line_total,
                }
                for line in order.lines
            ],
        }
    return {"merchant_id": event.merchant_id, "status": _ENDED[event.type]}


def customer_key(merchant_id: str, email: str) -> str:
    return f"{merchant_id}:{hashlib.sha256(email.encode()).hexdigest()[:32]}"


@dataclass(frozen=True)
class Delivered:
    """An order event as Kafka delivered it."""

    partition: int
    offset: int
    event: EventEnvelope

    @property
    def slot(self) -> str:
        return f"p{self.partition}"


@dataclass
class Increments:
    counters: dict[str, Counter[str]] = field(default_factory=dict)  # merchant -> "$inc" paths
    customers: dict[str, tuple[str, int]] = field(default_factory=dict)  # customer key -> (merchant, orders)
    counted: dict[str, Offsets] = field(default_factory=dict)  # document -> offsets after this batch
    facts: dict[str, Fact] = field(default_factory=dict)  # order id -> "$set"

    def add(self, merchant_id: str, path: str, value: int) -> None:
        self.counters.setdefault(merchant_id, Counter())[path] += value


def _placed(inc: Increments, fact: Fact, merchant_id: str, sign: int) -> None:
    """Add (``sign`` 1) or take back (-1, sales only) an order's contribution."""
    for period in ("weekly", "monthly"):
        key = f"{period}.{fact['week' if period == 'weekly' else 'month']}|{fact['currency']}"
        if sign > 0:
            inc.add(merchant_id, f"{key}.orders", 1)
        inc.add(merchant_id, f"{key}.sales", sign * fact["total"])
    for line in fact["lines"]:
        inc.add(merchant_id, f"products.{line['product_id']}.units", sign * line["quantity"])
        inc.add(merchant_id, f"products.{line['product_id']}.sales", sign * line["line_total"])


def increments(
    batch: list[Delivered], facts: dict[str, Fact], counted: dict[str, Offsets], customers: dict[str, Offsets]
) -> Increments:
    """What a batch adds, given the facts of its orders and the offsets the counters
    (``counted``, by merchant) and the customers (by customer key) already counted."""
    inc = Increments()
    facts = {order: dict(fact) for order, fact in facts.items()}
    for item in batch:
        event, order = item.event, item.event.aggregate_id
        merchant_seen = inc.counted.get(event.merchant_id, counted.get(event.merchant_id, {}))
        # Counted by an earlier delivery of this batch: its fact is still (re)written, as the
        # delivery that counted it may have died before writing it.
        count = item.offset > merchant_seen.get(item.slot, -1)
        if count:
            inc.counted[event.merchant_id] = {**merchant_seen, item.slot: item.offset}
        fact = facts.setdefault(order, {})
        update = fact_update(event)
        if event.type == "OrderPlaced" and not fact.get("counted"):
            fact.update(update, counted=True)
            if count:
                _placed(inc, fact, event.merchant_id, 1)
                if fact.get("status") in NOT_SALES:  # its cancel was seen first (an older fact)
                    _placed(inc, fact, event.merchant_id, -1)
            _count_customer(inc, item, fact["customer"], customers)  # guarded by its own offsets
        elif event.type != "OrderPlaced" and fact.get("status") not in NOT_SALES:
            fact.update(update)
            if count and fact.get("counted"):
                _placed(inc, fact, event.merchant_id, -1)
        inc.facts[order] = {k: v for k, v in fact.items() if k != "_id"}
    return inc


def _count_customer(inc: Increments, item: Delivered, email: str, customers: dict[str, Offsets]) -> None:
    key = customer_key(item.event.merchant_id, email)
    seen = inc.counted.get(key, customers.get(key, {}))
    if item.offset <= seen.get(item.slot, -1):
        return
    inc.counted[key] = {**seen, item.slot: item.offset}
    merchant, orders = inc.customers.get(key, (item.event.merchant_id, 0))
    inc.customers[key] = (merchant, orders + 1)


def read_model(merchant_id: str, counters: Document, customers: int, repeat: int, now: datetime) -> MerchantAnalytics:
    """``merchant_analytics`` from the counters document (pure)."""

    def series(period: str) -> list[tuple[str, str, int, int]]:
        rows = []
        for key, values in counters.get(period, {}).items():
            when, currency = key.split("|")
            rows.append((when, currency, values.get("orders", 0), values.get("sales", 0)))
        return sorted(rows)

    products = [
        TopProduct(product_id=pid, units=p.get("units", 0), sales=p.get("sales", 0))
        for pid, p in counters.get("products", {}).items()
        if p.get("units", 0) > 0
    ]
    return MerchantAnalytics(
        merchant_id=merchant_id,
        weekly=[WeeklySales(week=w, currency=c, orders=o, sales=s) for w, c, o, s in series("weekly")],
        monthly=[MonthlySales(month=m, currency=c, orders=o, sales=s) for m, c, o, s in series("monthly")],
        top_products=sorted(products, key=lambda p: (-p.units, p.product_id))[:TOP_PRODUCTS],
        customers=customers,
        repeat_customers=repeat,
        repeat_customer_rate=repeat / customers if customers else 0.0,
        computed_at=now,
    )
