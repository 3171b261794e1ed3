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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

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


def warmup_handlers(redis: Redis, client: httpx.AsyncClient, *, top_n: int, prefix: str) -> dict[str, Handler]:
    async def warm(job: Job) -> None:
        change = job.read(WarmUp)
        paths = await hottest(redis, change.collection, scopes_of(job.merchant_id, change.ids), top_n, prefix)
        for path in paths:
            response = await client.get(path, headers={WARMUP_HEADER: "1"})
            if response.status_code >= 500:
                response.raise_for_status()

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
