"""Writing a batch of projected documents: one unordered bulk write per collection."""

from __future__ import annotations

from pymongo import InsertOne, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

DUPLICATE_KEY = 11000


def guarded_replace(doc: dict) -> ReplaceOne:
    """Replace a document by a newer version of itself, or insert it.

    If the stored document is as new or newer, the filter matches nothing and the upsert
    hits the unique ``_id``: a duplicate-key error that ``apply_updates`` counts as
    "already applied". So a replayed batch and an older concurrent writer are no-ops.
    """
    return ReplaceOne({"_id": doc["_id"], "version": {"$lt": doc["version"]}}, doc, upsert=True)


def write_document(doc: dict, is_new: bool) -> InsertOne | ReplaceOne:
    """A plain insert for a document not stored yet (much cheaper than an upsert on
    FerretDB; a concurrent insert makes it a duplicate-key no-op), else ``guarded_replace``."""
    return InsertOne(doc) if is_new else guarded_replace(doc)


async def apply_updates(collection: AsyncCollection, updates: list) -> int:
    """Apply updates; duplicate-key failures are version-guarded no-ops (already applied).

    Returns how many were no-ops. Any other failure raises, so the batch is not
    acknowledged and Kafka redelivers it.
    """
    if not updates:
        return 0
    try:
        await collection.bulk_write(updates, ordered=False)
        return 0
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(err.get("code") != DUPLICATE_KEY for err in errors):
            raise
        return len(errors)
    except KeyError as exc:
        # FerretDB v1 answers an ``update`` whose upsert hit a duplicate key without
        # ``nModified``, which pymongo's bulk merge trips on; one at a time reports it
        # properly (as DuplicateKeyError).
        if exc.args != ("nModified",):
            raise
        return await _one_by_one(collection, updates)


async def _one_by_one(collection: AsyncCollection, updates: list) -> int:
    duplicates = 0
    for op in updates:
        try:
            await collection.bulk_write([op], ordered=False)
        except BulkWriteError as exc:
            if any(err.get("code") != DUPLICATE_KEY for err in exc.details.get("writeErrors", [])):
                raise
            duplicates += 1
        except KeyError:
            try:
                await collection.replace_one(op._filter, op._doc, upsert=op._upsert)
            except DuplicateKeyError:
                duplicates += 1
    return duplicates
