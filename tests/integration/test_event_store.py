"""The event store against the real MongoDB-compatible server: atomic commits,
optimistic concurrency and command de-duplication through unique indexes."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from shared.events import EventEnvelope

from command_api.adapters.event_store import EventStore
from command_api.application.ports import Commit, ConcurrencyConflict, DuplicateCommand

pytestmark = pytest.mark.integration


def commit(aggregate_id: str, first_version: int, count: int = 1, command_id: str | None = None) -> Commit:
    events = [
        EventEnvelope(
            type="ProductCreated",
            aggregate_type="product",
            aggregate_id=aggregate_id,
            aggregate_version=first_version + i,
            merchant_id="m1",
            correlation_id="c",
            data={"i": i},
        )
        for i in range(count)
    ]
    return Commit("product", aggregate_id, "m1", command_id or uuid.uuid4().hex, events)


@pytest.fixture
async def store(mongo_db) -> EventStore:
    store = EventStore(mongo_db)
    await store.create_indexes()
    return store


async def test_a_commit_and_its_events_load_back_in_order(store):
    aggregate_id = str(uuid.uuid4())
    await store.append(commit(aggregate_id, 1, count=3))
    await store.append(commit(aggregate_id, 4, count=2))
    assert [e.aggregate_version for e in await store.load(aggregate_id)] == [1, 2, 3, 4, 5]


async def test_two_writers_at_the_same_version_exactly_one_wins(store):
    aggregate_id = str(uuid.uuid4())
    await store.append(commit(aggregate_id, 1))
    results = await asyncio.gather(*(store.append(commit(aggregate_id, 2)) for _ in range(8)), return_exceptions=True)
    assert sum(isinstance(r, Commit) for r in results) == 1
    assert sum(isinstance(r, ConcurrencyConflict) for r in results) == 7
    assert len(await store.load(aggregate_id)) == 2


async def test_the_same_command_cannot_commit_twice(store):
    first = await store.append(commit(str(uuid.uuid4()), 1, command_id="cmd-x-" + uuid.uuid4().hex))
    with pytest.raises(DuplicateCommand) as raised:
        await store.append(commit(str(uuid.uuid4()), 1, command_id=first.command_id))
    assert raised.value.commit.aggregate_id == first.aggregate_id


async def test_unpublished_commits_are_found_until_marked(store):
    from datetime import timedelta

    from shared.events import utc_now

    c = await store.append(commit(str(uuid.uuid4()), 1))
    later = utc_now() + timedelta(seconds=1)
    assert c.id in {x.id for x in await store.unpublished(older_than=later)}
    await store.mark_published([c.id])
    assert c.id not in {x.id for x in await store.unpublished(older_than=later)}
