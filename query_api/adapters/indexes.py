"""The indexes the query API's reads rely on: the one list of ``shared.read_model_indexes``
(the projectors create the same list; creating it twice is a no-op). Which index each query
of this API uses is listed in ``query_api.application.queries``."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.read_model_indexes import ensure_read_model_indexes


async def ensure_query_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await ensure_read_model_indexes(db)
