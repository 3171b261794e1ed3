"""Key revocation, signalled to every API process: the contract between whoever revokes
keys (``merchant merchants rotate-keys``) and the key caches of the command and query APIs.

After the keys are marked revoked in MongoDB, ``publish_revocation`` sends
``PUBLISH <prefix>key-revocations {"merchant_id", "kinds"}``. Every API process runs
``listen`` (its own Redis connection, as the cache invalidations do) and drops that
merchant's cached keys of those kinds, so the next request with a revoked key is looked up
again and refused — within the delivery of one Redis message (milliseconds; the suite
checks under 1 s on a second process).

Failure modes: signalling is best effort. If Redis is down when keys are revoked, the
message is lost and the key cache's TTL (30 s) bounds how long a revoked key keeps
working; a process whose subscription drops clears its whole key cache when it subscribes
again, since it may have missed messages. A malformed message is logged and ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Protocol, runtime_checkable

import orjson
from redis.asyncio import Redis

from shared import redis as redis_factory
from shared.settings import ServerSettings

log = logging.getLogger(__name__)

CHANNEL = "key-revocations"


@runtime_checkable
class KeyCache(Protocol):
    def forget_merchant(self, merchant_id: str, kinds: tuple[str, ...]) -> int: ...

    def clear(self) -> None: ...


def channel(prefix: str = "") -> str:
    return f"{prefix}{CHANNEL}"


async def publish_revocation(redis: Redis, merchant_id: str, kinds: Sequence[str], prefix: str = "") -> bool:
    """Tell every API process; False (logged) if Redis could not be reached."""
    try:
        await redis.publish(channel(prefix), orjson.dumps({"merchant_id": merchant_id, "kinds": list(kinds)}))
        return True
    except Exception as exc:
        log.warning("key revocation not signalled (API processes drop the keys within their cache TTL): %s", exc)
        return False


def apply(data: bytes, keys: KeyCache) -> None:
    try:
        message = orjson.loads(data)
        merchant_id, kinds = str(message["merchant_id"]), tuple(str(k) for k in message["kinds"])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        log.error("ignoring malformed key revocation %r: %s", data[:200], exc)
        return
    dropped = keys.forget_merchant(merchant_id, kinds)
    log.info("keys revoked for merchant %s (%s): %d cached entries dropped", merchant_id, ",".join(kinds), dropped)


async def listen(
    redis: Redis, keys: KeyCache, prefix: str = "", retry_seconds: float = 0.5, subscribed: asyncio.Event | None = None
) -> None:
    """Apply revocations until cancelled, resubscribing after any connection loss."""
    while True:
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel(prefix))
            keys.clear()  # whatever was revoked while we were not listening
            if subscribed is not None:
                subscribed.set()
            while True:
                message = await pubsub.get_message(timeout=5.0)
                if message is not None:
                    apply(message["data"], keys)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if subscribed is not None:
                subscribed.clear()
            log.warning("key revocation subscriber disconnected (cached keys fall back on their TTL): %s", exc)
            await asyncio.sleep(retry_seconds)
        finally:
            try:
                await pubsub.aclose()
            except Exception:
                pass


@contextlib.asynccontextmanager
async def following(settings: ServerSettings, keys: KeyCache, ready_within: float = 2.0) -> AsyncIterator[None]:
    """Run ``listen`` for an API's lifespan on a Redis client of its own (a subscription
    blocks on reads: no read timeout, pings to notice a dead connection). Waits up to
    ``ready_within`` for the subscription, then serves anyway (Redis down: TTL bound)."""
    redis = redis_factory.open_redis(settings, socket_timeout=None, health_check_interval=10)
    subscribed = asyncio.Event()
    task = asyncio.create_task(
        listen(redis, keys, settings.kafka_topic_prefix, subscribed=subscribed), name="key-revocations"
    )
    try:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(subscribed.wait(), ready_within)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await redis.aclose()


def follow(settings: ServerSettings, keys: object) -> contextlib.AbstractAsyncContextManager[None]:
    """``following`` for a key cache; nothing for a resolver that caches nothing (the
    in-memory twin of the tests applies a revocation at once)."""
    return following(settings, keys) if isinstance(keys, KeyCache) else contextlib.nullcontext()
