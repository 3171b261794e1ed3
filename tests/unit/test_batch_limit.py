"""The projector's batch limit: about ``target`` seconds of events per batch, within bounds,
and the FastStream subscriber really polls with it."""

from __future__ import annotations

import asyncio

import pytest
from faststream.kafka import KafkaBroker

from shared.observability import metrics
from shared.settings import ProjectorSettings

from projectors.application.batch_limit import FLOOR, START, BatchLimit
from projectors.entrypoints.app import Running, subscribe
from projectors.entrypoints.batch_bound import BatchBound
from projectors.entrypoints.streams import ORDERS_STREAM


def limit(target: float = 5.0, ceiling: int = 20_000) -> BatchLimit:
    return BatchLimit(target=target, ceiling=ceiling)


def fill(policy: BatchLimit, seconds_per_event: float) -> int:
    """One full batch at that cost; the next limit."""
    return policy.after(policy.limit, policy.limit * seconds_per_event)


def test_it_starts_at_the_former_fixed_count_and_at_most_doubles_after_each_fast_full_batch():
    policy = limit()
    assert policy.limit == START == 1000
    limits = [fill(policy, 0.00001) for _ in range(6)]  # 100,000 events/s: 500,000 per 5 s
    assert limits == [2000, 4000, 8000, 16_000, 20_000, 20_000]


def test_growth_stops_where_a_batch_would_take_the_target():
    policy = limit()
    for _ in range(20):
        fill(policy, 0.001)  # 1 ms per event: 5,000 events in 5 s
    assert policy.limit == 5000
    assert fill(policy, 0.001) == 5000


def test_the_ceiling_and_the_floor_hold():
    policy = limit(ceiling=1500)
    for _ in range(20):
        fill(policy, 0.00001)
    assert policy.limit == 1500
    assert policy.after(1500, 1500 * 10.0) == FLOOR  # 10 s per event: the floor, not below
    assert limit(ceiling=40).limit == 40  # a ceiling under the floor wins


def test_a_slow_batch_shrinks_the_limit_at_once_to_what_its_rate_does_in_the_target():
    policy = limit()
    for _ in range(20):
        fill(policy, 0.0005)
    assert policy.limit == 10_000
    assert policy.after(10_000, 40.0) == 1250  # 4 ms per event now: 5 s is 1,250 events
    # and it grows again from there as the smoothed cost falls, one doubling at most per batch
    grown = [fill(policy, 0.0005) for _ in range(12)]
    assert 1250 < grown[0] < 2500 and grown[-1] >= 9_900
    assert all(b <= 2 * a for a, b in zip([1250, *grown], grown, strict=False))


def test_a_fast_full_batch_never_shrinks_the_limit():
    policy = limit()
    for _ in range(20):
        fill(policy, 0.001)
    policy.after(5000, 4.9)  # on target
    policy.after(5000, 0.5)
    assert policy.limit >= 5000


def test_short_live_batches_leave_the_limit_for_the_backlog_that_follows():
    policy = limit()
    for _ in range(20):
        fill(policy, 0.0005)
    # live traffic: a few events per batch, each batch mostly its round trips (20 ms per event)
    for events in (1, 3, 12, 40):
        assert policy.after(events, events * 0.02) == 10_000
    assert fill(policy, 0.0005) == 10_000


def test_a_pathological_one_event_per_second_batch():
    policy = limit()
    for _ in range(20):
        fill(policy, 0.0005)
    # one event alone, one second: not slow (under the target), not full: says nothing
    assert policy.after(1, 1.0) == 10_000
    # a short batch at one event per second that outlasts the target: the floor at once
    assert policy.after(8, 8.0) == FLOOR
    # and a full batch at that rate keeps it there
    assert fill(policy, 1.0) == FLOOR


def test_a_failed_batch_only_shrinks_the_limit_when_it_was_slow():
    policy = limit()
    for _ in range(20):
        fill(policy, 0.0005)
    assert policy.after_failure(10_000, 0.01) == 10_000  # failed fast (store down): no growth, no data
    assert policy.after_failure(10_000, 20.0) == 2500


def test_an_empty_batch_changes_nothing():
    policy = limit()
    assert policy.after(0, 3.0) == START and policy.seconds_per_event is None


# -- The coupling to FastStream: a limit set between batches bounds the next poll ----------


class Consumer:
    """What ``BatchSubscriber.get_msg`` calls: ``getmany``; records the bound it was given."""

    def __init__(self) -> None:
        self.asked: list[int | None] = []

    async def getmany(self, *partitions, timeout_ms: int = 0, max_records: int | None = None) -> dict:
        self.asked.append(max_records)
        return {"tp": [object()] * (max_records or 1)}


async def test_faststream_polls_with_the_limit_the_handler_set():
    """If a FastStream upgrade stops reading ``max_records`` on every poll, this fails: the
    projector's batch bound (``projectors.entrypoints.batch_bound``) would be ignored."""
    settings = ProjectorSettings(batch_seconds=1.0, batch_size=5000)
    broker = KafkaBroker("127.0.0.1:9")  # never connected: get_msg is called directly
    bound = subscribe(broker, settings, ORDERS_STREAM, Running())
    subscriber = bound.subscriber
    assert subscriber is not None and subscriber.max_records == START
    consumer = Consumer()
    assert len(await subscriber.get_msg(consumer)) == START  # type: ignore[arg-type]
    async with bound.timing(START):
        pass  # a fast full batch
    assert len(await subscriber.get_msg(consumer)) == 2 * START  # type: ignore[arg-type]
    assert consumer.asked == [START, 2 * START]
    assert metrics.projector_batch_limit.labels("orders")._value.get() == 2 * START


async def test_a_batch_that_raises_is_timed_and_can_only_shrink_the_limit():
    bound = BatchBound.of(ProjectorSettings(batch_seconds=0.01, batch_size=5000), "orders")
    bound.limit.limit = 1000
    with pytest.raises(RuntimeError):
        async with bound.timing(1000):
            raise RuntimeError("store down")
    assert bound.current == 1000  # fast: nothing learnt
    with pytest.raises(RuntimeError):
        async with bound.timing(2):
            await asyncio.sleep(0.05)
            raise RuntimeError("slow then failed")
    assert bound.current == FLOOR


async def test_zero_seconds_turns_the_retuning_off_at_the_largest_batch():
    bound = BatchBound.of(ProjectorSettings(batch_seconds=0, batch_size=3000), "orders")
    assert bound.current == 3000
    async with bound.timing(3000):
        pass
    assert bound.current == 3000
    assert bound.limit.after(3000, 600.0) == 3000  # even a batch of ten minutes
