"""A synthetic event history written straight into an event store, for volume tests.

Exports, replays and rebuilds need many events of many types, some in old schema
versions; going through the command API for 100,000 of them would measure the API, not
the reader. Commits are built with the write side's own ``Commit`` class, so the
documents have exactly the store's shape. Every body is valid for its (type, version).
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

from shared.events import EventEnvelope, current_version

from command_api.adapters.event_store import COMMITS
from command_api.application.ports import Commit

PRODUCT_EVENTS_EACH = 5  # created + price + stock + reserved + published


def product_bodies(rng: random.Random, old_schema: bool) -> list[tuple[str, int, dict]]:
    price = {"amount": rng.randint(100, 99_999), "currency": "EUR"}
    created = {
        "sku": f"SKU-{uuid.uuid4().hex[:10]}",
        "name": f"Product {rng.randint(1, 10**6)}",
        "category": rng.choice(["shoes", "bags", "hats"]),
        "price": price,
        "stock": 50,
    }
    if not old_schema:
        created["tags"] = rng.sample(["new", "sale", "eco", "winter"], k=rng.randint(0, 2))
    new_price = {"amount": price["amount"] + 100, "currency": "EUR"}
    return [
        ("ProductCreated", 1 if old_schema else current_version("ProductCreated"), created),
        ("ProductPriceChanged", 1, {"price": new_price, "previous_price": price}),
        ("ProductStockAdjusted", 1, {"delta": 10, "reason": "restock", "stock": 60}),
        ("StockReserved", 1, {"order_id": f"o-{uuid.uuid4().hex[:8]}", "quantity": 2, "stock": 58}),
        ("ProductPublished", 1, {}),
    ]


def commits(
    total_events: int, *, merchant_id: str, start: datetime, old_share: float = 0.3, seed: int = 7
) -> Iterator[Commit]:
    """Commits of one event each, ``start`` + one millisecond per event, until the total."""
    rng = random.Random(seed)
    emitted = 0
    while emitted < total_events:
        product_id = f"prod-{uuid.uuid4().hex[:12]}"
        bodies = product_bodies(rng, old_schema=rng.random() < old_share)
        for version, (event_type, schema_version, data) in enumerate(bodies, start=1):
            if emitted == total_events:
                return
            at = start + timedelta(milliseconds=emitted)
            envelope = EventEnvelope(
                type=event_type,
                schema_version=schema_version,
                aggregate_type="product",
                aggregate_id=product_id,
                aggregate_version=version,
                merchant_id=merchant_id,
                occurred_at=at,
                correlation_id=f"seed-{emitted}",
                data=data,
            )
            yield Commit(
                aggregate_type="product",
                aggregate_id=product_id,
                merchant_id=merchant_id,
                command_id=f"seed-{uuid.uuid4().hex}",
                events=[envelope],
                committed_at=at,
            )
            emitted += 1


async def write_history(
    db, total_events: int, *, merchant_id: str, start: datetime, old_share: float = 0.3, batch: int = 2000
) -> Counter:
    """Insert the synthetic history; returns the events per type that were written."""
    written: Counter = Counter()
    pending: list[dict] = []
    for commit in commits(total_events, merchant_id=merchant_id, start=start, old_share=old_share):
        doc = commit.to_document()
        doc["published"] = True
        pending.append(doc)
        written.update(e.type for e in commit.events)
        if len(pending) >= batch:
            await db[COMMITS].insert_many(pending, ordered=False)
            pending = []
    if pending:
        await db[COMMITS].insert_many(pending, ordered=False)
    return written
