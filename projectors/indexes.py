"""Creating the read-model indexes of ``shared.read_model_indexes``, idempotently.

Partial indexes are used where the server implements them (MongoDB). Whether it does is
*detected* — by creating a partial index on a scratch collection — not assumed from the
server's name; where it does not (FerretDB v1), each partial index is created as a full
index under the same name with the filtered fields in its keys, and a warning says so.
"""

from __future__ import annotations

import logging

from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from shared.mongo import ensure_indexes
from shared.read_model_indexes import INDEXES, IndexSpec

log = logging.getLogger(__name__)

PROBE = "_capability_probe"


async def supports_partial_indexes(db: AsyncDatabase) -> bool:
    try:
        await db[PROBE].create_index([("probe", 1)], name="probe_partial",
                                     partialFilterExpression={"probe": {"$exists": True}})
        return True
    except OperationFailure as exc:
        log.debug("partial indexes not supported: %s", exc)
        return False
    finally:
        await db.drop_collection(PROBE)


def index_model(spec: IndexSpec, partial: bool) -> IndexModel:
    if spec.partial and partial:
        return IndexModel(list(spec.keys), name=spec.name, partialFilterExpression=spec.partial)
    keys = spec.fallback_keys() if spec.partial else spec.keys
    return IndexModel(list(keys), name=spec.name)


async def ensure_read_model_indexes(db: AsyncDatabase, collections: dict[str, str] | None = None) -> dict:
    """Create every read-model index (or those of ``collections``: logical -> physical).

    Returns ``{"partial": bool, "created": n}``.
    """
    partial = await supports_partial_indexes(db)
    if not partial:
        log.warning("this server has no partial indexes: creating %d of them as full indexes "
                    "(same names, filtered fields added to the keys)",
                    sum(1 for s in INDEXES if s.partial))
    created = 0
    for spec in INDEXES:
        if collections is not None and spec.collection not in collections:
            continue
        physical = collections[spec.collection] if collections else spec.collection
        await ensure_indexes(db[physical], [index_model(spec, partial)])
        created += 1
    return {"partial": partial, "created": created}
