"""Hot keys: the contract between the query API (who counts hits) and the warm-up worker.

The query API counts each cacheable GET in a Redis sorted set per read model and
merchant: ``ZINCRBY <prefix>hot:<collection>:<merchant_id> 1 <path?query>`` (``record_hit``).
After an invalidation of that (collection, merchant), the warm-up worker requests the
highest-scored paths again, hottest first, so the next reader finds a warm cache.
"""

from __future__ import annotations

from redis.asyncio import Redis


def hot_key(collection: str, merchant_id: str, prefix: str = "") -> str:
    return f"{prefix}hot:{collection}:{merchant_id}"


async def record_hit(redis: Redis, collection: str, merchant_id: str, path: str, prefix: str = "") -> None:
    await redis.zincrby(hot_key(collection, merchant_id, prefix), 1, path)


async def hottest(redis: Redis, collection: str, merchant_id: str, count: int, prefix: str = "") -> list[str]:
    """The ``count`` most requested paths, hottest first."""
    members = await redis.zrevrange(hot_key(collection, merchant_id, prefix), 0, count - 1)
    return [m.decode() if isinstance(m, bytes) else str(m) for m in members]
