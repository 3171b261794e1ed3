"""Cache warm-up: after an invalidation, request the hottest paths again, by priority.

Listens on the invalidation channel (``shared.invalidation``); invalidations of one
(collection, merchant) arriving within ``debounce`` seconds are merged into one warm-up
job (their document ids united). The job reads the hot-key record the query API writes
from its traffic (``shared.warmup``) for every tag the change invalidated — the merchant's
reads, the reads across merchants, each changed document's page — and GETs the hottest
``top_n`` of them one after the other, hottest first, with the warm-up header, so the
most valuable entries are current in Redis soonest and the query API is not flooded. A
failed warm-up is retried once, then dead-lettered (the cache then fills on the next real
read: warming is an optimisation, never needed for correctness).

**Paced.** Each path is warmed at most once per ``min_interval`` seconds (``PathPacer``): a
path asked for again sooner is warmed once when its interval ends, however many changes
asked meanwhile, so the last change is always followed by a warm-up. Under a stream of
changes the hottest pages (the cross-merchant lists above all, which every merchant's
change invalidates) would otherwise be re-read from MongoDB on every change, while real
traffic refills them within milliseconds anyway: in the spike scenario that was ~40 warm-up
reads a second, a quarter of the query API's MongoDB reads and half the workers' CPU
(docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable

import httpx
import orjson
from redis.asyncio import Redis

from shared.invalidation import channel
from shared.warmup import WARMUP_HEADER, hottest, scopes_of

from workers.application.jobs import Job, job_id_for
from workers.application.payloads import WarmUp
from workers.application.policy import Handler, Runner

log = logging.getLogger(__name__)

MAX_IDS = 50  # documents whose own pages one job warms (a bigger change: lists only)


class PathPacer:
    """Each path at most once per ``interval`` seconds. ``split`` sorts a job's paths into
    those to warm now and those whose interval is still running; of the latter, a job gets
    only the paths no other job is already waiting for (``wait``), so a path asked for by
    many changes is warmed once when its interval ends. Memory: the paths warmed within the
    last interval, and those waiting."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval, self._clock = interval, clock
        self._warmed: dict[str, float] = {}  # path -> when it was last warmed
        self._waiting: set[str] = set()

    def split(self, paths: Iterable[str]) -> tuple[list[str], list[str], float]:
        """(warm now, warm later, seconds until the last of the later ones is due). The
        paths to warm now count as warmed from now on."""
        now = self._clock()
        self._forget(now)
        ready, later, wait = [], [], 0.0
        for path in paths:
            last = self._warmed.get(path)
            if last is None:
                self._warmed[path] = now  # claimed: a concurrent job waits for its interval
                ready.append(path)
            elif path not in self._waiting:
                self._waiting.add(path)
                later.append(path)
                wait = max(wait, last + self.interval - now)
        return ready, later, wait

    def warmed(self, path: str) -> None:
        self._warmed[path] = self._clock()
        self._waiting.discard(path)

    def gave_up(self, paths: Iterable[str]) -> None:
        """A job that was waiting for ``paths`` failed: another job may wait for them."""
        self._waiting.difference_update(paths)

    def _forget(self, now: float) -> None:
        expired = [p for p, at in self._warmed.items() if at + self.interval <= now and p not in self._waiting]
        for path in expired:
            del self._warmed[path]


def warmup_handlers(
    redis: Redis, client: httpx.AsyncClient, *, top_n: int, prefix: str, min_interval: float = 0.0
) -> dict[str, Handler]:
    pacer = PathPacer(min_interval)

    async def get(path: str) -> None:
        response = await client.get(path, headers={WARMUP_HEADER: "1"})
        if response.status_code >= 500:
            response.raise_for_status()

    async def warm(job: Job) -> None:
        change = job.read(WarmUp)
        paths = await hottest(redis, change.collection, scopes_of(job.merchant_id, change.ids), top_n, prefix)
        ready, later, wait = pacer.split(paths)
        try:
            for path in ready:
                await get(path)
            if later:
                await asyncio.sleep(wait)
                for path in later:
                    pacer.warmed(path)
                    await get(path)
        finally:
            pacer.gave_up(later)  # no-op for those warmed

    return {"warm": warm}


def warmup_job(collection: str, merchant_id: str, serial: int, ids: Iterable[str] = ()) -> Job:
    return Job(
        job_id=job_id_for(f"{collection}:{merchant_id}", f"warmup.{serial}"),
        kind="warmup",
        action="warm",
        merchant_id=merchant_id,
        correlation_id=f"warmup-{serial}",
        key=merchant_id,
        payload=WarmUp(collection=collection, ids=sorted(ids)[:MAX_IDS]).to_payload(),
    )


async def listen(redis: Redis, runner: Runner, *, prefix: str, debounce: float = 0.1) -> None:
    """Run forever: invalidations in, debounced warm-up jobs out."""
    pending: dict[tuple[str, str], set[str]] = {}  # (collection, merchant) -> changed ids
    tasks: set[asyncio.Task[None]] = set()
    serial = 0

    async def later(collection: str, merchant_id: str, number: int) -> None:
        await asyncio.sleep(debounce)
        ids = pending.pop((collection, merchant_id), set())
        await runner.run(warmup_job(collection, merchant_id, number, ids))

    while True:
        pubsub = redis.pubsub()
        try:
            await pubsub.subscribe(channel(prefix))
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                change = orjson.loads(message["data"])
                key = (change["collection"], change["merchant_id"])
                if key not in pending:
                    serial += 1
                    pending[key] = set()
                    task = asyncio.create_task(later(*key, serial))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                pending[key].update(change.get("ids") or ())
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            raise
        except Exception as exc:  # Redis went away: warm-up pauses, caches still expire by TTL
            log.warning("warm-up listener lost Redis (%s); reconnecting", exc)
            await asyncio.sleep(1)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
