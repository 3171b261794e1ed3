"""Reports: status and downloads (secret key; a merchant sees only its own reports)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from shared.http.auth import authenticate
from shared.http.errors import ApiError
from shared.worker_read_models import REPORT_CHUNKS, REPORTS

from query_api.entrypoints.bootstrap import side_of

STATUS_FIELDS = (
    "merchant_id",
    "kind",
    "date_from",
    "date_to",
    "formats",
    "status",
    "attempts",
    "error",
    "summary",
    "requested_at",
    "started_at",
    "completed_at",
)


async def _own_report(request: Request) -> dict[str, Any]:
    side = side_of(request)
    principal = await authenticate(request, side.keys)
    report_id = request.path_params["report_id"]
    doc = await side.db[REPORTS].find_one({"_id": report_id, "merchant_id": principal.merchant_id})
    if doc is None:
        raise ApiError(404, "not_found", f"No report '{report_id}'.")
    return doc


def _json(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


async def get_report(request: Request) -> Response:
    doc = await _own_report(request)
    body = {"id": doc["_id"], **{f: _json(doc.get(f)) for f in STATUS_FIELDS}}
    body["files"] = {
        fmt: {
            "size": f["size"],
            "sha256": f["sha256"],
            "content_type": f["content_type"],
            "url": f"/v1/reports/{doc['_id']}/files/{fmt}",
        }
        for fmt, f in (doc.get("files") or {}).items()
    }
    return Response(orjson.dumps(body), media_type="application/json")


async def download(request: Request) -> Response:
    doc = await _own_report(request)
    fmt = request.path_params["fmt"]
    if doc["status"] != "ready":
        raise ApiError(409, "report_not_ready", f"The report is {doc['status']}; try again when it is ready.")
    meta = (doc.get("files") or {}).get(fmt)
    if meta is None:
        raise ApiError(404, "not_found", f"The report has no {fmt!r} file; it has {sorted(doc.get('files') or {})}.")
    etag = f'"{meta["sha256"]}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    chunks = (
        side_of(request)
        .db[REPORT_CHUNKS]
        .find({"report_id": doc["_id"], "fmt": fmt, "generation": meta["generation"]})
        .sort("seq", 1)
    )

    async def body() -> AsyncIterator[bytes]:
        async for chunk in chunks:
            yield bytes(chunk["data"])

    filename = f"sales-{doc['date_from']}-{doc['date_to']}.{fmt}"
    return StreamingResponse(
        body(),
        media_type=meta["content_type"],
        headers={
            "Content-Length": str(meta["size"]),
            "ETag": etag,
            "Cache-Control": "private, max-age=3600",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


routes = [
    Route("/v1/reports/{report_id}", get_report, methods=["GET"]),
    Route("/v1/reports/{report_id}/files/{fmt}", download, methods=["GET"]),
]
