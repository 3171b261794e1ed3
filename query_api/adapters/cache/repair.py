"""After a read-your-writes read found a newer version: invalidate what may predate it.

The projector writes the read model first and signals the invalidation right after, so for
a moment the new version is in MongoDB while caches still hold the old one. Bumping the
local epochs and signalling the same invalidation the projector is about to closes that
window for everyone as soon as one client has seen the new version (see
``query_api.application.freshness``). Idempotent: a duplicate of the projector's own
signal. If Redis is down only this process's L1 is repaired (``publish`` logs and goes on).
The change is marked *no-stale*: the entries it invalidates are never served stale
(stale-while-revalidate) in this process or, once the message reaches them, in the others.
"""

from __future__ import annotations

from redis.asyncio import Redis

from shared.invalidation import Change, publish

from query_api.adapters.cache.epochs import Epochs


async def repair_after_fresh_read(
    epochs: Epochs, redis: Redis, prefix: str, collection: str, merchant_id: str, doc_id: str
) -> None:
    # no_stale: a client has seen the new version, so what predates it is never served stale
    epochs.bump(collection, merchant_id, (doc_id,), no_stale=True)  # local first: this process at once
    await publish(redis, [Change(collection, merchant_id, (doc_id,), no_stale=True)], prefix)
