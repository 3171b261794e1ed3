"""The audit log: a merchant reads its own domain events' entries, oldest first.

``GET /v1/audit?limit=&after=&type=&aggregate_id=`` — cursor pagination over
(occurred_at, id) using the ``audit_by_merchant_in_time`` index; ``next`` is the cursor
of the following page (absent on the last).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.http.auth import authenticate
from shared.http.errors import ApiError
from shared.worker_read_models import AUDIT_LOG

from query_api.entrypoints.bootstrap import side_of

MAX_LIMIT = 500


def encode_cursor(doc: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([doc["occurred_at"].isoformat(), doc["_id"]])).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, last_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(at), str(last_id)
    except Exception:
        raise ApiError(400, "invalid_cursor", "The 'after' cursor is not one this API returned.") from None


def _limit(raw: str | None) -> int:
    if raw is None:
        return 100
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(
            422,
            "validation_failed",
            f"limit must be 1 to {MAX_LIMIT}.",
            [{"field": "limit", "problem": "range", "message": f"1 to {MAX_LIMIT}"}],
        )
    return int(raw)


def entry(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        **{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in doc.items() if k != "_id"},
    }


async def list_audit(request: Request) -> Response:
    side = side_of(request)
    principal = await authenticate(request, side.keys)
    params = request.query_params
    limit = _limit(params.get("limit"))
    query: dict[str, Any] = {"merchant_id": principal.merchant_id}
    for field in ("type", "aggregate_id"):
        if params.get(field):
            query[field] = params[field]
    if params.get("after"):
        at, last_id = decode_cursor(params["after"])
        query["$or"] = [{"occurred_at": {"$gt": at}}, {"occurred_at": at, "_id": {"$gt": last_id}}]
    cursor = side.db[AUDIT_LOG].find(query).sort([("occurred_at", 1), ("_id", 1)]).limit(limit + 1)
    docs = [doc async for doc in cursor]
    body: dict[str, Any] = {"items": [entry(d) for d in docs[:limit]]}
    if len(docs) > limit:
        body["next"] = encode_cursor(docs[limit - 1])
    return Response(orjson.dumps(body), media_type="application/json")


routes = [Route("/v1/audit", list_audit, methods=["GET"])]
