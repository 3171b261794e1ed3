"""Running each indexed query of ``shared.read_model_indexes`` through the server's
``explain``, to show which index it uses (tests and ``docs/indexes.md``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.read_model_indexes import IndexSpec

SAMPLES = {
    "?merchant": "m_sample",
    "?since": datetime(2026, 1, 1, tzinfo=UTC),
    "?day": "2026-03-01",
    "?from": "2026-03-01",
    "?to": "2026-03-31",
    "?": "sample",
}


def concrete(value: Any) -> Any:
    """The spec's query with its ``?`` placeholders filled with sample values."""
    if isinstance(value, dict):
        return {k: concrete(v) for k, v in value.items()}
    if isinstance(value, str) and value.startswith("?"):
        return SAMPLES.get(value, SAMPLES["?"])
    return value


async def is_ferretdb(db: AsyncDatabase[Any]) -> bool:
    return "ferretdbVersion" in await db.command("buildInfo")


def index_names_in(plan: Any) -> set[str]:
    """Every ``indexName`` anywhere in a MongoDB explain document."""
    found: set[str] = set()
    if isinstance(plan, dict):
        if isinstance(plan.get("indexName"), str):
            found.add(plan["indexName"])
        for value in plan.values():
            found |= index_names_in(value)
    elif isinstance(plan, list):
        for value in plan:
            found |= index_names_in(value)
    return found


async def explain(db: AsyncDatabase[Any], spec: IndexSpec) -> dict[str, Any]:
    cursor = db[spec.collection].find(concrete(spec.query))
    if spec.sort:
        cursor = cursor.sort(list(spec.sort))
    plan: dict[str, Any] = await cursor.explain()
    return plan
