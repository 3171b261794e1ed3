"""Hot keys: the one record of what storefronts read most, written by the query API from its
real traffic and read by the warm-up worker (and by a query API starting up).

The record is keyed like the invalidations that end a cached answer's life
(``shared.invalidation``): a public read's answer is cached under the tag
``(collection, scope)`` — scope a merchant id, ``*`` for reads that span merchants, or
``id:<document id>`` for one document (a product page). Under the environment's prefix:

- ``hot:<collection>:<scope>``: a sorted set of request targets (``path?query``) cached
  under that tag, scored by hits; trimmed to the hottest ``KEEP``; expires ``TTL`` seconds
  after its last hit, so the sets of documents nobody reads any more go away;
- ``hot:paths``: every hot target, scored by hits (what a starting process replays).

A change ``(collection, merchant, ids)`` invalidates the tags of ``scopes_of``; the warm-up
worker asks for the hottest targets of those tags again (``hottest``), hottest first, with
the ``WARMUP_HEADER``: the query API then loads the answer past its in-process cache (an
unaffected list page may still be there while its Redis copy is stale) into Redis, where
every process finds it, and does not count the request as a hit.

Best effort on both sides: a lost flush or an unreadable record only means a colder cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from redis.asyncio import Redis

from shared.invalidation import ANY_MERCHANT

KEEP = 1000  # targets kept per sorted set
TTL = 86_400  # seconds a tag's set outlives its last hit
DOC_SCOPE = "id:"  # scope of a single document's cached reads
WARMUP_HEADER = "X-Cache-Warmup"  # on the warm-up worker's requests

# (collection, scope) -> {target: hits}
Hits = Mapping[tuple[str, str], Mapping[str, int]]


def hot_key(collection: str, scope: str, prefix: str = "") -> str:
    return f"{prefix}hot:{collection}:{scope}"


def paths_key(prefix: str = "") -> str:
    return f"{prefix}hot:paths"


def doc_scope(doc_id: str) -> str:
    return f"{DOC_SCOPE}{doc_id}"


def scopes_of(merchant_id: str, ids: Iterable[str] = ()) -> list[str]:
    """The scopes a change of ``merchant_id``'s documents ``ids`` invalidates: the merchant's
    reads, the reads across merchants, and each document's own."""
    return [merchant_id, ANY_MERCHANT, *(doc_scope(i) for i in ids)]


async def record(redis: Redis, hits: Hits, prefix: str = "") -> None:
    """Add ``hits`` to the record, in one round trip."""
    if not hits:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for (collection, scope), targets in hits.items():
            key = hot_key(collection, scope, prefix)
            for target, n in targets.items():
                pipe.zincrby(key, n, target)
                pipe.zincrby(paths_key(prefix), n, target)
            pipe.zremrangebyrank(key, 0, -KEEP - 1)  # keep only the top
            pipe.expire(key, TTL)
        pipe.zremrangebyrank(paths_key(prefix), 0, -KEEP - 1)
        await pipe.execute()


async def hottest(redis: Redis, collection: str, scopes: Iterable[str], count: int, prefix: str = "") -> list[str]:
    """The ``count`` most requested targets cached under ``(collection, scope)`` for any of
    ``scopes``, hottest first."""
    async with redis.pipeline(transaction=False) as pipe:
        for scope in scopes:
            pipe.zrevrange(hot_key(collection, scope, prefix), 0, count - 1, withscores=True)
        found = await pipe.execute()
    scores: dict[str, float] = {}
    for member, score in (pair for ranked in found for pair in ranked):
        target = member.decode() if isinstance(member, bytes) else str(member)
        scores[target] = max(score, scores.get(target, 0.0))
    return sorted(scores, key=lambda t: (-scores[t], t))[:count]


async def hottest_paths(redis: Redis, count: int, prefix: str = "") -> list[str]:
    """The ``count`` most requested targets of every tag, hottest first."""
    members = await redis.zrevrange(paths_key(prefix), 0, count - 1)
    return [m.decode() if isinstance(m, bytes) else str(m) for m in members]
