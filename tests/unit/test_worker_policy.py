"""The delivery policy with a fake publisher: what goes where after each attempt."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from shared.events import utc_now
from shared.settings import WorkerSettings

from workers.application.jobs import Attempt, Job
from workers.application.policy import Busy, PermanentError, Policy, Runner, relay_when_due

SETTINGS = WorkerSettings(kafka_topic_prefix="t.")


class Published(list):
    async def __call__(self, topic: str, job: Job) -> None:
        self.append((topic, job))


def job(attempt: int = 1, action: str = "send") -> Job:
    return Job(job_id="j1", kind="email", action=action, merchant_id="m", correlation_id="c", key="k", attempt=attempt)


def runner(handler, published: Published, max_retries: int = 3, timeout: float = 1.0) -> Runner:
    return Runner(
        Policy("email", max_retries, timeout, base_delay=1.0, max_delay=8.0), {"send": handler}, published, SETTINGS
    )


async def fails(job: Job) -> None:
    raise ConnectionError("smtp down")


async def test_success_publishes_nothing():
    published = Published()

    async def ok(job):
        return None

    assert await runner(ok, published).run(job()) == "ok"
    assert published == []


async def test_a_failure_goes_to_the_retry_topic_with_backoff_and_history():
    published = Published()
    before = utc_now()
    assert await runner(fails, published).run(job(attempt=2)) == "retry"
    ((topic, retried),) = published
    assert topic == "t.jobs.email.retry"
    assert retried.attempt == 3 and [a.attempt for a in retried.history] == [2]
    assert "ConnectionError: smtp down" in retried.history[0].error
    # attempt 2 → ceiling 2s, equal jitter: between 1 and 2 seconds from now
    assert before + timedelta(seconds=1) <= retried.not_before <= utc_now() + timedelta(seconds=2)


async def test_after_the_last_retry_the_job_is_dead_lettered_with_the_reason():
    published = Published()
    previous = job(attempt=4).model_copy(update={"history": [Attempt(attempt=n, error="x") for n in (1, 2, 3)]})
    assert await runner(fails, published, max_retries=3).run(previous) == "dead"
    ((topic, dead),) = published
    assert topic == "t.jobs.email.dlq"
    assert [a.attempt for a in dead.history] == [1, 2, 3, 4]
    assert dead.dead_reason == "ConnectionError: smtp down"


async def test_permanent_errors_and_unknown_actions_skip_the_retries():
    published = Published()

    async def permanent(job):
        raise PermanentError("no such mailbox")

    assert await runner(permanent, published).run(job()) == "dead"
    assert await runner(permanent, published).run(job(action="nope")) == "dead"
    assert [t for t, _ in published] == ["t.jobs.email.dlq"] * 2
    assert "no handler for action 'nope'" in published[1][1].dead_reason


async def test_a_timeout_is_a_failed_attempt():
    published = Published()

    async def slow(job):
        await asyncio.sleep(5)

    assert await runner(slow, published, timeout=0.01).run(job()) == "retry"
    assert published[0][1].history[0].error == "timed out after 0.01s"


async def test_busy_looks_again_later_without_spending_an_attempt():
    published = Published()
    until = utc_now() + timedelta(seconds=3)

    async def busy(job):
        raise Busy(until)

    assert await runner(busy, published).run(job(attempt=2)) == "busy"
    ((topic, again),) = published
    assert topic == "t.jobs.email.retry" and again.attempt == 2 and again.not_before == until


@pytest.mark.parametrize("attempt,low,high", [(1, 0.5, 1.0), (2, 1.0, 2.0), (3, 2.0, 4.0), (6, 4.0, 8.0)])
def test_backoff_is_exponential_with_jitter_and_capped(attempt, low, high):
    policy = Policy("email", 3, 1.0, base_delay=1.0, max_delay=8.0)
    assert policy.backoff(attempt, rand=lambda: 0.0) == low
    assert policy.backoff(attempt, rand=lambda: 1.0) == high


async def test_the_relay_waits_until_due_then_republishes_to_the_job_topic():
    published = Published()
    due = job().model_copy(update={"not_before": utc_now() + timedelta(seconds=0.05)})
    await relay_when_due(due, published, SETTINGS)
    assert published == [("t.jobs.email", due)] and utc_now() >= due.not_before


def counted(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_each_attempt_is_counted_in_the_job_metrics_by_its_outcome():
    names = {
        "ok": ("jobs_processed_total", {"kind": "email", "outcome": "ok"}),
        "retry": ("jobs_processed_total", {"kind": "email", "outcome": "retry"}),
        "dead": ("jobs_processed_total", {"kind": "email", "outcome": "dead"}),
        "retries": ("job_retries_total", {"kind": "email"}),
        "dead_letters": ("job_dead_letters_total", {"kind": "email"}),
        "timed": ("job_duration_seconds_count", {"kind": "email"}),
    }
    before = {key: counted(name, **labels) for key, (name, labels) in names.items()}

    async def ok(job):
        return None

    async def busy(job):
        raise Busy(utc_now())

    published = Published()
    assert await runner(ok, published).run(job()) == "ok"
    assert await runner(fails, published).run(job(attempt=1)) == "retry"
    assert await runner(fails, published, max_retries=1).run(job(attempt=2)) == "dead"
    assert await runner(busy, published).run(job()) == "busy"  # not an attempt: not counted

    grown = {key: counted(name, **labels) - before[key] for key, (name, labels) in names.items()}
    assert grown == {"ok": 1, "retry": 1, "dead": 1, "retries": 1, "dead_letters": 1, "timed": 3}
