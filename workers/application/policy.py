"""Delivery policy shared by every job kind: timeout, retries with backoff, dead letters.

``Runner.run(job)`` never raises for a failing job and never sleeps: a failed attempt is
re-published to ``jobs.<kind>.retry`` with ``not_before`` set by exponential backoff
with jitter, so the rest of the partition goes on at once. ``retry_relay`` moves it back
to ``jobs.<kind>`` when due. After ``max_retries`` retries (``max_retries + 1`` attempts)
the job goes to ``jobs.<kind>.dlq`` with every attempt's error.

Only a failure to *publish* the retry or dead letter raises, so the consumer does not
commit the offset and Kafka redelivers the job (dedupe keeps that harmless).

Each attempt is counted where it ends, per kind: ``jobs_processed_total{outcome=ok|retry|
dead}``, ``job_duration_seconds``, and ``job_retries_total`` / ``job_dead_letters_total``
once the retry or dead letter is published. A job put off because another worker holds its
claim (``busy``) or handed back at shutdown was not attempted and is not counted.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from shared.events import utc_now
from shared.observability import metrics
from shared.settings import WorkerSettings

from workers.application.jobs import Attempt, Job, JobKind, dlq_topic, job_topic, retry_topic

log = logging.getLogger(__name__)

Handler = Callable[[Job], Awaitable[None]]
# What one attempt came to: done, re-published for a retry, dead-lettered, or put off
# because another worker holds the job's claim.
Outcome = Literal["ok", "retry", "dead", "busy"]

# Retries after the first attempt, per kind (the delivery policy).
MAX_RETRIES: dict[JobKind, int] = {"email": 3, "sms": 3, "reports": 2, "analytics": 2, "audit": 5, "warmup": 1}


class PermanentError(Exception):
    """Retrying cannot help (malformed job, unknown recipient...): dead-letter at once."""


class HandedBack(Exception):
    """The worker is shutting down: the job is left uncommitted for the next worker."""


class Busy(Exception):
    """Another worker holds this job's claim: look again at ``until`` (not an attempt)."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"claimed elsewhere until {until.isoformat()}")
        self.until = until


@dataclass(frozen=True)
class Policy:
    kind: JobKind
    max_retries: int
    timeout: float
    base_delay: float = 1.0
    max_delay: float = 60.0

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Delay before attempt ``attempt + 1``: base * 2^(attempt-1), "equal jitter".

        Half the delay is fixed, half random, so retries of many jobs that failed together
        (an SMTP outage) spread out instead of hammering the server in lockstep.
        """
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return ceiling / 2 + rand() * ceiling / 2


def policies(settings: WorkerSettings) -> dict[JobKind, Policy]:
    timeouts: dict[JobKind, float] = {
        "email": settings.email_timeout_seconds,
        "sms": settings.sms_timeout_seconds,
        "reports": settings.report_timeout_seconds,
    }
    return {
        kind: Policy(
            kind, retries, timeouts.get(kind, 30.0), settings.retry_base_delay_seconds, settings.retry_max_delay_seconds
        )
        for kind, retries in MAX_RETRIES.items()
    }


class Publisher(Protocol):
    async def __call__(self, topic: str, job: Job) -> None: ...


@dataclass
class KindStats:
    """What this process did for one kind (reported by the ops endpoint)."""

    in_flight: int = 0
    succeeded: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0


@dataclass
class Runner:
    policy: Policy
    handlers: dict[str, Handler]
    publish: Publisher
    settings: WorkerSettings
    stats: KindStats = field(default_factory=KindStats)
    active: set[asyncio.Task[None]] = field(default_factory=set)
    closing: asyncio.Event = field(default_factory=asyncio.Event)

    async def hand_back(self) -> None:
        """Shutdown, once the consumers stopped taking messages and gave the attempts in
        flight their grace: take no new attempt, cancel those still running and wait for
        their clean-up (a send still waiting for its answer moves to ``Sends.pending``);
        their offsets stay uncommitted, so Kafka gives the jobs to the next worker."""
        self.closing.set()
        for task in self.active:
            if not task.cancelling():  # a second cancel would interrupt its clean-up
                task.cancel()
        await asyncio.gather(*self.active, return_exceptions=True)

    async def run(self, job: Job) -> Outcome:
        """One attempt of ``job``; returns what happened: ok, retry, dead, busy."""
        if self.closing.is_set():
            raise HandedBack(job.job_id)  # not committed: Kafka redelivers it elsewhere
        handler = self.handlers.get(job.action)
        self.stats.in_flight += 1
        began = time.perf_counter()
        task = None
        try:
            if handler is None:
                raise PermanentError(f"no handler for action {job.action!r}")
            # The attempt runs as its own task so shutdown can wait for its clean-up.
            task = asyncio.ensure_future(handler(job))
            self.active.add(task)
            await asyncio.wait_for(task, self.policy.timeout)
        except asyncio.CancelledError:
            if self.closing.is_set() and not _cancelling_us():
                raise HandedBack(job.job_id) from None  # our attempt was handed back
            raise
        except Busy as busy:
            await self.publish(retry_topic(self.settings, job.kind), job.model_copy(update={"not_before": busy.until}))
            return "busy"
        except TimeoutError:
            return await self._failed_attempt(job, f"timed out after {self.policy.timeout:g}s", False, began)
        except PermanentError as exc:
            return await self._failed_attempt(job, f"PermanentError: {exc}", True, began)
        except Exception as exc:
            return await self._failed_attempt(job, f"{type(exc).__name__}: {exc}", False, began)
        finally:
            self.stats.in_flight -= 1
            if task is not None and task.done():
                self.active.discard(task)
        self.stats.succeeded += 1
        return _counted(job, "ok", time.perf_counter() - began)

    async def _failed_attempt(self, job: Job, error: str, permanent: bool, began: float) -> Outcome:
        spent = time.perf_counter() - began  # the attempt's time, not the retry's publication
        return _counted(job, await self._failed(job, error, permanent=permanent), spent)

    async def _failed(self, job: Job, error: str, *, permanent: bool) -> Outcome:
        history = [*job.history, Attempt(attempt=job.attempt, error=error)]
        if permanent or job.attempt > self.policy.max_retries:
            log.error(
                "job %s (%s/%s) dead after %d attempt(s): %s", job.job_id, job.kind, job.action, job.attempt, error
            )
            await self.publish(
                dlq_topic(self.settings, job.kind), job.model_copy(update={"history": history, "dead_reason": error})
            )
            self.stats.dead += 1
            metrics.job_dead_letters.labels(kind=job.kind).inc()
            return "dead"
        delay = self.policy.backoff(job.attempt)
        log.warning(
            "job %s (%s/%s) attempt %d failed, retry in %.2fs: %s",
            job.job_id,
            job.kind,
            job.action,
            job.attempt,
            delay,
            error,
        )
        await self.publish(
            retry_topic(self.settings, job.kind),
            job.model_copy(
                update={
                    "attempt": job.attempt + 1,
                    "history": history,
                    "not_before": utc_now() + timedelta(seconds=delay),
                }
            ),
        )
        self.stats.retried += 1
        metrics.job_retries.labels(kind=job.kind).inc()
        return "retry"


def _counted(job: Job, outcome: Outcome, seconds: float) -> Outcome:
    metrics.job_duration.labels(kind=job.kind).observe(seconds)
    metrics.jobs_processed.labels(kind=job.kind, outcome=outcome).inc()
    return outcome


def _cancelling_us() -> bool:
    """Whether the task running this code is being cancelled (not merely its attempt)."""
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0


async def relay_when_due(
    job: Job,
    publish: Publisher,
    settings: WorkerSettings,
    now: Callable[[], datetime] = utc_now,
    closing: asyncio.Event | None = None,
) -> None:
    """Move a waiting retry back to its job topic once ``not_before`` has passed.

    Retries of a kind share one topic in roughly due order (the same backoff ladder), so
    waiting for the head of the retry partition delays only retries, never fresh jobs.
    The offset is committed after the re-publish: a crash here re-publishes, and the
    job's dedupe record absorbs the duplicate. At shutdown (``closing``) a retry not yet
    due goes back on the retry topic as it is and its offset is committed: the worker
    neither waits for it nor leaves it to be fetched again while it stops.
    """
    if job.not_before is not None:
        wait = (job.not_before - now()).total_seconds()
        if wait > 0:
            closing = closing or asyncio.Event()
            try:
                await asyncio.wait_for(closing.wait(), wait)
            except TimeoutError:
                pass  # due
            else:
                await publish(retry_topic(settings, job.kind), job)  # the next worker relays it
                return
    await publish(job_topic(settings, job.kind), job)
