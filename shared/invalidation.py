"""Cache invalidation: the contract between projectors (who change read models) and the
query API (who caches them).

After a batch is durable, a projector calls ``publish`` with what changed. Two signals:

- ``INCR gen:<collection>:<merchant_id>`` — a generation counter per merchant and read
  model, so a cache can key or validate entries by generation (survives a missed message);
  and ``INCR gen:<collection>:*`` (``ANY_MERCHANT``), the generation of queries that span
  merchants (the storefront catalogue across shops);
- ``INCR gen:<collection>:id:<id>`` for each changed document (kept ``ID_GENERATION_TTL``
  seconds after its last change), or ``INCR gen:<collection>:id:*`` for a change that names
  no documents — so a cached single-document read (a product by id) is invalidated by a
  change to *that* document, not by any change in the catalogue;
- ``PUBLISH <prefix>invalidations {"collection", "merchant_id", "ids"}`` — so every query
  API process drops its in-process (L1) entries at once. ``"no_stale": true`` (optional,
  absent means false) says that what the change invalidates must not be served stale
  while it reloads (the query API's stale-while-revalidate, docs/api.md): the query API
  sets it when it signals a change itself after a read-your-writes read.

Invalidation is best effort: if Redis is down the projector goes on (the read model is the
truth) and caches fall back on their TTLs, the documented staleness bound.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import orjson
from redis.asyncio import Redis

log = logging.getLogger(__name__)

CHANNEL = "invalidations"
ANY_MERCHANT = "*"
ANY_ID = "*"
# A per-document generation outlives every cache entry validated by it (caches keep entries
# for minutes): when it expires and restarts from 0, no entry that saw an older value is left.
ID_GENERATION_TTL = 86_400


@dataclass(frozen=True)
class Change:
    collection: str
    merchant_id: str
    ids: tuple[str, ...] = field(default_factory=tuple)
    # What this change invalidates must not be served stale (a query API's repair after a
    # read-your-writes read: some client has seen the newer version). Projectors leave it off.
    no_stale: bool = False


def generation_key(collection: str, merchant_id: str) -> str:
    return f"gen:{collection}:{merchant_id}"


def id_generation_key(collection: str, doc_id: str) -> str:
    return f"gen:{collection}:id:{doc_id}"


def channel(prefix: str = "") -> str:
    return f"{prefix}{CHANNEL}"


def merge(changes: list[Change]) -> list[Change]:
    """One change per (collection, merchant), ids united: one message per pair per batch."""
    merged: dict[tuple[str, str], set[str]] = {}
    no_stale: set[tuple[str, str]] = set()
    for change in changes:
        merged.setdefault((change.collection, change.merchant_id), set()).update(change.ids)
        if change.no_stale:
            no_stale.add((change.collection, change.merchant_id))
    return [Change(c, m, tuple(sorted(ids)), (c, m) in no_stale) for (c, m), ids in merged.items()]


async def publish(redis: Redis, changes: list[Change], prefix: str = "") -> bool:
    """Signal the changes; returns False (and logs) if Redis could not be reached."""
    if not changes:
        return True
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for change in merge(changes):
                pipe.incr(prefix + generation_key(change.collection, change.merchant_id))
                pipe.incr(prefix + generation_key(change.collection, ANY_MERCHANT))
                for doc_id in change.ids or (ANY_ID,):
                    key = prefix + id_generation_key(change.collection, doc_id)
                    pipe.incr(key)
                    if doc_id != ANY_ID:
                        pipe.expire(key, ID_GENERATION_TTL)
                message: dict[str, object] = {
                    "collection": change.collection,
                    "merchant_id": change.merchant_id,
                    "ids": list(change.ids),
                }
                if change.no_stale:
                    message["no_stale"] = True
                pipe.publish(channel(prefix), orjson.dumps(message))
            await pipe.execute()
        return True
    except Exception as exc:
        log.warning("cache invalidation not published (caches expire by TTL): %s", exc)
        return False
