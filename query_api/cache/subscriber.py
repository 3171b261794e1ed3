"""Listens for projector invalidations and bumps the local epochs (dropping L1 entries).

Runs as a task in the query API's lifespan on a connection of its own (a pub/sub
connection blocks). After every (re)subscription the epochs are reset: messages sent while
we were not listening are lost, so everything cached before is treated as stale; losing the
connection does the same, and until it is back L1 keeps entries only briefly.
"""

from __future__ import annotations

import asyncio
import logging

import orjson
from redis.asyncio import Redis

from shared.invalidation import channel

from query_api.cache.epochs import Epochs
from query_api.cache.l1 import L1Cache

log = logging.getLogger(__name__)


async def listen(redis: Redis, epochs: Epochs, l1: L1Cache, prefix: str = "",
                 retry_seconds: float = 0.5, subscribed: asyncio.Event | None = None) -> None:
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
                if message is not None:
                    apply(message["data"], epochs)
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


def apply(data: bytes, epochs: Epochs) -> None:
    try:
        change = orjson.loads(data)
        epochs.bump(str(change["collection"]), str(change["merchant_id"]),
                    [str(i) for i in change.get("ids") or ()])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        log.error("ignoring malformed invalidation %r: %s", data[:200], exc)
