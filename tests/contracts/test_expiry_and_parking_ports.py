"""ExpiryPort (placed orders for the expirer) and ParkingPort (parked aggregates), on every
adapter. The skip list of ``OutboxPort.unpublished`` is here too: it is what parking uses."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import pytest
from bson import ObjectId

from shared.events import utc_now

from command_api.adapters.memory.parking import InMemoryParking
from command_api.adapters.parking import Parking
from command_api.application.ports import Commit, Parked
from tests.contracts.records import commit, new_id


def placed(order_id: str, *, published: bool = False) -> Commit:
    c = commit(order_id, 1)
    event = c.events[0].model_copy(update={"type": "OrderPlaced", "aggregate_type": "order"})
    return dataclasses.replace(c, aggregate_type="order", events=[event], published=published)


def later() -> object:
    return utc_now() + timedelta(seconds=5)


async def test_placed_orders_are_found_oldest_first_until_looked_at(backend):
    first, second = placed(new_id()), placed(new_id())
    for record in (first, commit(new_id(), 1), second, placed(new_id(), published=True)):
        await backend.store.append(record)
    found = await backend.store.placed_before(later())
    assert [c.id for c in found] == [first.id, second.id]  # not other commits, not the seeder's history
    assert await backend.store.placed_before(first.committed_at) == []
    oldest = await backend.store.oldest_placement()
    assert oldest is not None and abs((oldest - first.committed_at).total_seconds()) < 0.002
    await backend.store.looked_at([first.id])
    assert [c.id for c in await backend.store.placed_before(later())] == [second.id]
    await backend.store.looked_at([second.id])
    assert await backend.store.oldest_placement() is None


async def test_unpublished_skips_the_aggregates_named(backend):
    kept, parked = new_id(), new_id()
    for record in (commit(kept, 1), commit(parked, 1), commit(parked, 2)):
        await backend.store.append(record)
    pending = await backend.store.unpublished(older_than=later(), skip=[parked])
    assert [c.aggregate_id for c in pending] == [kept]


@pytest.fixture
async def parking(server_db):
    if server_db is None:
        yield InMemoryParking()
        return
    db = server_db.client[f"{server_db.name}_p{uuid.uuid4().hex[:8]}"]
    yield Parking(db)
    await server_db.client.drop_database(db.name)


async def test_an_aggregate_is_parked_once_at_its_first_refused_commit_until_unparked(parking):
    aggregate = new_id()
    first = Parked(aggregate, "m1", ObjectId(), 3, "too large")
    await parking.park(first)
    await parking.park(Parked(aggregate, "m1", ObjectId(), 4, "too large"))
    (found,) = [p for p in await parking.parked() if p.aggregate_id == aggregate]
    assert (found.commit_id, found.version, found.reason) == (first.commit_id, 3, "too large")
    assert await parking.unpark([aggregate, new_id()]) == 1
    assert aggregate not in {p.aggregate_id for p in await parking.parked()}
