"""Listens for projector invalidations and bumps the local epochs (dropping L1 entries).

Runs as a task in the query API's lifespan on a connection of its own (a pub/sub
connection blocks). After every (re)subscription the epochs are reset: messages sent while
we were not listening are lost, so everything cached before is treated as stale; losing the
connection does the same, and until it is back L1 keeps entries only briefly.

A change naming a few documents is applied precisely to list pages: at once, the pages
showing one of the documents are dropped (their old values must not be served again);
then the documents are read back (by ``_id``) and the pages they now belong in are dropped
too. Every other page stays cached. If that read fails, every page of the tags is dropped.

**Patched, not reloaded.** A page dropped because it showed a changed document is put back
right after the read-back, showing the document as it is now, when that is exactly the page
a reload would give (``L1Cache.patch_pages``: the document still passes the page's filter
at the same sort position, and no other change of the tag came meanwhile) — a stock change
from a checkout then costs the pages showing the product no MongoDB load. Until then (the
read-back, a few milliseconds) a reader waits for a load or is answered stale as before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from redis.asyncio import Redis

from shared.invalidation import ANY_MERCHANT, channel

from query_api.adapters.cache.epochs import Epochs, PreciseChange
from query_api.adapters.cache.l1 import L1Cache, Slot
from query_api.adapters.cache.stats import CacheStats

log = logging.getLogger(__name__)

# (collection, ids) -> the documents as they are now (missing ones left out)
FetchDocs = Callable[[str, list[str]], Awaitable[list[dict[str, Any]]]]
MAX_PRECISE_IDS = 50  # bigger batches (rebuilds, bulk imports): drop every page of the tags
FETCH_TIMEOUT = 2.0


async def listen(
    redis: Redis,
    epochs: Epochs,
    l1: L1Cache,
    prefix: str = "",
    retry_seconds: float = 0.5,
    subscribed: asyncio.Event | None = None,
    fetch: FetchDocs | None = None,
    stats: CacheStats | None = None,
) -> None:
    rechecks: set[asyncio.Task[None]] = set()
    stats = stats or CacheStats()
    try:
        while True:
            pubsub = redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel(prefix))
                epochs.reset()
                l1.clear()
                epochs.listening = True
                if subscribed is not None:
                    subscribed.set()
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is None:
                        continue
                    precise = apply(message["data"], epochs, l1 if fetch else None, stats)
                    if precise is not None and fetch is not None:  # (precise only when fetch is given)
                        task = asyncio.create_task(recheck(fetch, epochs, l1, stats, *precise))
                        rechecks.add(task)
                        task.add_done_callback(rechecks.discard)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                epochs.listening = False
                epochs.reset()  # entries cached so far would miss the invalidations to come
                if subscribed is not None:
                    subscribed.clear()
                log.warning("invalidation subscriber disconnected (L1 falls back on TTL): %s", exc)
                await asyncio.sleep(retry_seconds)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:
                    pass
    finally:
        for task in rechecks:
            task.cancel()


def apply(
    data: bytes, epochs: Epochs, l1: L1Cache | None = None, stats: CacheStats | None = None
) -> tuple[str, str, list[str], PreciseChange, list[tuple[str, Slot]]] | None:
    """Apply one message. Returns (collection, merchant, ids, change, dropped pages) when
    list pages that may now hold those documents remain to be checked (``recheck``)."""
    try:
        body = orjson.loads(data)
        collection, merchant = str(body["collection"]), str(body["merchant_id"])
        ids = [str(i) for i in body.get("ids") or ()]
        no_stale = body.get("no_stale") is True
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        log.error("ignoring malformed invalidation %r: %s", data[:200], exc)
        return None
    tags = [(collection, merchant), (collection, ANY_MERCHANT)]
    precise = l1 is not None and 0 < len(ids) <= MAX_PRECISE_IDS and l1.has_pages(tags)
    change = epochs.bump(collection, merchant, ids, precise=precise, no_stale=no_stale)
    if change is None or l1 is None:  # (a change is precise only with an L1 to drop pages from)
        return None
    patchable: list[tuple[str, Slot]] = []
    dropped = l1.drop_pages(tags, set(ids), patchable=patchable)
    if stats is not None:
        stats.pages_dropped += dropped
    return collection, merchant, ids, change, patchable


async def recheck(
    fetch: FetchDocs,
    epochs: Epochs,
    l1: L1Cache,
    stats: CacheStats,
    collection: str,
    merchant: str,
    ids: list[str],
    change: PreciseChange,
    dropped: list[tuple[str, Slot]] | None = None,
) -> None:
    try:
        docs = await asyncio.wait_for(fetch(collection, ids), FETCH_TIMEOUT)
    except Exception as exc:
        log.info("pages of %s/%s dropped whole (documents not read back: %s)", collection, merchant, exc)
        epochs.bump_broad(collection, merchant)
        stats.broad_drops += 1
        return
    change.docs = docs  # from now on, pages loading meanwhile can be checked against it
    change.read_at = time.monotonic()
    if docs:
        stats.pages_dropped += l1.drop_pages([(collection, merchant), (collection, ANY_MERCHANT)], set(), docs)
    if dropped:
        l1.patch_pages(dropped, docs, change)
