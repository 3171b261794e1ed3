"""The baseline of a command: a raw pymongo ``insert_one`` loop of a commit-sized document.

What one command can at best cost is one insert into ``commits``. This loop inserts
documents of exactly a command's commit shape (built by the write side's own ``Commit``:
``commit_template``), fresh ids each time, into a collection with the **same indexes as
``commits``** (``command_api.adapters.event_store.INDEXES``) on the same server, from
``concurrency`` clients sharing one pymongo client — the figure a command's rate is
compared with in ``merchant bench --only commands`` (issue #14).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection

from shared.events import EventEnvelope
from shared.mongo import ensure_indexes

from command_api.adapters.event_store import INDEXES
from command_api.application.ports import Commit

ORDER_LINE = {
    "product_id": "p",
    "sku": "SKU-1",
    "name": "Stocked",
    "unit_price": {"amount": 500, "currency": "EUR"},
    "quantity": 1,
    "line_total": 500,
}
EVENT_BODIES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "create product": (
        "product",
        "ProductCreated",
        {
            "sku": "0123456789abcdef",
            "name": "Bench",
            "description": "",
            "category": "bench",
            "price": {"amount": 1000, "currency": "EUR"},
            "stock": 5,
            "attributes": {},
            "status": "published",
            "tags": [],
        },
    ),
    "adjust stock": ("product", "ProductStockAdjusted", {"delta": 1, "reason": "bench", "stock": 1_000_001}),
    "place order (1 line)": (
        "order",
        "OrderPlaced",
        {
            "customer": {"email": "bench@example.com", "phone": None, "name": None},
            "shipping_address": {
                "name": "B",
                "line1": "1 Road",
                "line2": None,
                "city": "Town",
                "postal_code": "1",
                "region": None,
                "country": "FR",
            },
            "lines": [ORDER_LINE],
            "currency": "EUR",
            "item_count": 1,
            "total": 500,
        },
    ),
}


def commit_template(command: str) -> dict[str, Any]:
    """The commit document a command appends (its first, largest, for an order)."""
    aggregate_type, event_type, data = EVENT_BODIES[command]
    envelope = EventEnvelope(
        type=event_type,
        aggregate_type=aggregate_type,
        aggregate_id=str(uuid.uuid4()),
        aggregate_version=1,
        merchant_id=str(uuid.uuid4()),
        correlation_id=uuid.uuid4().hex,
        causation_id=uuid.uuid4().hex,
        data=data,
    )
    commit = Commit(aggregate_type, envelope.aggregate_id, envelope.merchant_id, uuid.uuid4().hex, [envelope])
    return commit.to_document()


async def prepared(collection: AsyncCollection[dict[str, Any]]) -> AsyncCollection[dict[str, Any]]:
    await ensure_indexes(collection, INDEXES)
    return collection


def insert_loop(collection: AsyncCollection[dict[str, Any]], template: dict[str, Any]) -> Callable[[], Awaitable[bool]]:
    """One operation: insert a copy of ``template`` with ids of its own (unique indexes hold)."""

    async def insert() -> bool:
        doc = copy.copy(template)
        aggregate_id = str(uuid.uuid4())
        doc["_id"], doc["aggregate_id"], doc["command_id"] = ObjectId(), aggregate_id, uuid.uuid4().hex
        await collection.insert_one(doc)
        return True

    return insert
