"""Read models holding a big catalogue, for the projector's "on big read models" pair.

``seed_catalogue`` creates ``merchants`` merchants with ``per_merchant`` products each in a
database of its own, through the projection engine in this process (as a rebuild would:
one source, ``replay``), so states, views and the derived categories are what projecting
those events gives. ``onto`` moves a generated stream onto those merchants (their own
merchant events dropped: the seeded merchants exist), so the rounds' events land in the
big catalogues' merchants, categories and counters.
"""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import UTC, datetime, timedelta

from shared.events import EventEnvelope

from merchant_testkit.event_stream import CATEGORIES, NAMES
from projectors.adapters.bulk import detect_writer
from projectors.adapters.indexes import ensure_read_model_indexes
from projectors.adapters.mongo_store import MongoReadModels, StoredEvents
from projectors.application.engine import Batch, Delivery, Stream, apply_batch
from projectors.entrypoints.streams import MERCHANTS_STREAM, PRODUCTS_STREAM

START = datetime(2026, 1, 1, tzinfo=UTC)
CHUNK = 2000


def _event(kind: str, aggregate: str, merchant: str, type_: str, data: dict, at: datetime) -> EventEnvelope:
    return EventEnvelope(
        type=type_,
        aggregate_type=kind,
        aggregate_id=aggregate,
        aggregate_version=1,
        merchant_id=merchant,
        occurred_at=at,
        correlation_id=uuid.uuid4().hex,
        data=data,
    )


def catalogue_events(merchants: list[str], per_merchant: int, seed: int = 7) -> list[EventEnvelope]:
    rng = random.Random(seed)
    events = [_event("merchant", m, m, "MerchantCreated", {"name": f"Big {m[-4:]}"}, START) for m in merchants]
    for m, i in itertools.product(merchants, range(per_merchant)):
        body = {
            "sku": f"BIG-{i}",
            "name": rng.choice(NAMES),
            "category": rng.choice(CATEGORIES),
            "price": {"amount": rng.randint(100, 20_000), "currency": "EUR"},
            "stock": rng.randint(0, 40),
            "status": "published" if rng.random() < 0.85 else "draft",
        }
        events.append(
            _event("product", f"p_{uuid.uuid4().hex[:16]}", m, "ProductCreated", body, START + timedelta(seconds=i))
        )
    return events


async def seed_catalogue(db, merchants: list[str], per_merchant: int) -> int:
    """The catalogue's events projected into ``db``; returns how many."""
    await ensure_read_model_indexes(db)
    store = MongoReadModels(db, await detect_writer(db))
    events = catalogue_events(merchants, per_merchant)
    positions = itertools.count()
    for stream in (MERCHANTS_STREAM, PRODUCTS_STREAM):
        await _project(store, stream, [e for e in events if e.aggregate_type == stream.aggregate_type], positions)
    return len(events)


async def _project(store: MongoReadModels, stream: Stream, events: list[EventEnvelope], positions) -> None:
    history = StoredEvents(store.db)
    for start in range(0, len(events), CHUNK):
        deliveries = [Delivery(e, "replay", next(positions)) for e in events[start : start + CHUNK]]
        await apply_batch(store, history, stream, Batch.of(deliveries))


def onto(events: list[EventEnvelope], merchants: list[str]) -> list[EventEnvelope]:
    """The stream with its merchants replaced by ``merchants`` (round robin), theirs dropped."""
    own = sorted({e.merchant_id for e in events})
    mapping = {m: merchants[i % len(merchants)] for i, m in enumerate(own)}
    return [
        e.model_copy(update={"merchant_id": mapping[e.merchant_id]}) for e in events if e.aggregate_type != "merchant"
    ]
