"""MongoDB client factory (pymongo's async API). Opened in lifespans, never at import.

**Bounded waits.** A client opened with ``timeout`` (the APIs': their
``store_timeout_seconds``) gives every operation — finding a server, taking a pooled
connection, connecting, the round trip itself — that long in total (pymongo's
``timeoutMS``): a stopped server, and a hung one that accepts connections but never
answers, both fail a request within the timeout instead of holding it. ``unavailable``
tells such failures (the store could not be reached in time) from the store's answers
(a duplicate key, a refused write), so the HTTP layer answers them ``503`` with
``Retry-After`` (``shared.http.errors``). Processes that do long work on the store
(projectors, workers, rebuilds, the seeder) open clients without ``timeout``: finding a
server still gives up after ``SERVER_SELECTION_SECONDS``.
"""

from __future__ import annotations

import logging
from typing import Any, TypeAlias

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, ExecutionTimeout, OperationFailure, PyMongoError

from shared.settings import ServerSettings

log = logging.getLogger(__name__)

# Documents are read and written as plain dicts (BSON's shape); the typed views of the
# documents we own are in ``shared.read_models`` and ``shared.worker_read_models``.
Document: TypeAlias = dict[str, Any]
MongoClient: TypeAlias = AsyncMongoClient[Document]
Database: TypeAlias = AsyncDatabase[Document]
Collection: TypeAlias = AsyncCollection[Document]


SERVER_SELECTION_SECONDS = 5.0


def open_mongo(settings: ServerSettings, *, timeout: float | None = None, **options: Any) -> MongoClient:
    """Production options (pool 10-100, compression) come from MERCHANT_ENV; every client
    reports pool use and command latency to /metrics through pymongo's listeners.
    ``timeout``: seconds any one operation may take, all waits included (module docstring)."""
    from shared.observability import mongo_monitoring, production

    options = {**production.mongo_options(), **options}
    options.setdefault("event_listeners", mongo_monitoring.listeners())
    selection = SERVER_SELECTION_SECONDS if timeout is None else min(timeout, SERVER_SELECTION_SECONDS)
    options.setdefault("serverSelectionTimeoutMS", int(selection * 1000))
    if timeout is not None:
        options.setdefault("timeoutMS", int(timeout * 1000))
    options.setdefault("tz_aware", True)
    options.setdefault("appname", "merchant-backend")
    return AsyncMongoClient(settings.mongodb_url, **options)


def database(client: MongoClient, settings: ServerSettings) -> Database:
    return client[settings.mongodb_database]


def unavailable(exc: BaseException) -> bool:
    """The store could not be reached, or did not answer in time (a retry may succeed):
    no server to select, a dropped or timed-out connection, the pool exhausted, an
    operation over its time limit. Not: an answer of the store (duplicate key, a refused
    write, a bad query), which a retry would get again."""
    if isinstance(exc, (ConnectionFailure, ExecutionTimeout)):
        return True
    return isinstance(exc, PyMongoError) and exc.timeout


async def ping(client: MongoClient) -> bool:
    try:
        await client.admin.command("ping")
        return True
    except Exception:
        return False


async def ensure_indexes(collection: Collection, indexes: list[IndexModel]) -> None:
    """Create indexes idempotently, one ``createIndexes`` call each.

    FerretDB v1.24 panics (and drops the connection) on a ``createIndexes`` naming several
    indexes when some already exist; one at a time works on it and on MongoDB alike.

    Several components declare the indexes their queries rely on (projectors and the
    query API). When the same keys already exist under another name, that index serves
    the query just as well: it is logged and kept, never a start-up failure.
    """
    for index in indexes:
        try:
            await collection.create_indexes([index])
        except OperationFailure as exc:
            if exc.code not in _EQUIVALENT_INDEX_EXISTS:
                raise
            log.info(
                "index %s on %s: an equivalent index exists under another name (%s)",
                index.document["name"],
                collection.name,
                exc.details.get("errmsg") if exc.details else exc,
            )


_EQUIVALENT_INDEX_EXISTS = {85, 86}  # IndexOptionsConflict, IndexKeySpecsConflict


async def group_sums(
    collection: Collection, match: list[Document], key: object, sums: dict[str, object]
) -> dict[object, dict[str, int | float]]:
    """``{group key: {name: sum}}`` for ``$group`` sums, one accumulator per pipeline.

    FerretDB v1.24 computes only the *first* ``$sum`` of a ``$group`` correctly (later
    ones come back 0), so each sum runs in its own ``$group``. ``key`` is a ``$group``
    ``_id`` expression, ``sums`` maps a result name to a ``$sum`` operand (``1`` counts).
    ``match`` holds the stages before the ``$group`` (``$match``, ``$unwind``...).
    """
    out: dict[object, dict[str, int | float]] = {}
    for name, operand in sums.items():
        rows = await collection.aggregate([*match, {"$group": {"_id": key, name: {"$sum": operand}}}])
        async for row in rows:
            group_key = row["_id"] if not isinstance(row["_id"], dict) else tuple(sorted(row["_id"].items()))
            out.setdefault(group_key, {})[name] = row[name]
    return out
