"""Storing report files in MongoDB, in chunks below the 16 MB document limit.

Each attempt writes its files under a fresh ``generation``; the report document points
at the generation that completed. A failed or timed-out attempt deletes its own chunks,
and a reader never sees a half-written file (it follows the report's pointer).
"""

from __future__ import annotations

import hashlib

from bson import Binary

from shared.mongo import Database, Document, ensure_indexes
from shared.worker_read_models import REPORT_CHUNK_INDEXES, REPORT_CHUNKS, ReportFile, chunk_id

CHUNK_BYTES = 1024 * 1024
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}


async def create_indexes(db: Database) -> None:
    await ensure_indexes(db[REPORT_CHUNKS], REPORT_CHUNK_INDEXES)


async def store_file(db: Database, report_id: str, fmt: str, generation: str, content: bytes) -> ReportFile:
    pieces = [content[i : i + CHUNK_BYTES] for i in range(0, len(content), CHUNK_BYTES)] or [b""]
    await db[REPORT_CHUNKS].insert_many(
        [
            {
                "_id": chunk_id(report_id, fmt, generation, seq),
                "report_id": report_id,
                "fmt": fmt,
                "generation": generation,
                "seq": seq,
                "data": Binary(piece),
            }
            for seq, piece in enumerate(pieces)
        ]
    )
    return ReportFile(
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content_type=CONTENT_TYPES[fmt],
        generation=generation,
        chunks=len(pieces),
    )


async def discard(db: Database, report_id: str, *, generation: str | None = None, keep: str | None = None) -> None:
    """Delete one generation's chunks, or every generation but ``keep``."""
    query: Document = {"report_id": report_id}
    if generation is not None:
        query["generation"] = generation
    if keep is not None:
        query["generation"] = {"$ne": keep}
    await db[REPORT_CHUNKS].delete_many(query)
