"""One error shape for every API: ``{"error": {"code", "message", "fields"?}}``.

Codes are stable (clients branch on them); messages are for people. Bad input is always
a 4xx with the offending fields, never a 500. A store that cannot be reached in time
(``shared.mongo.unavailable``) is ``503 store_unavailable`` with ``Retry-After``: the
request did nothing the client can see, or it is safe to retry (commands: with the same
``Idempotency-Key``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import ValidationError
from pymongo.errors import PyMongoError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from shared.mongo import unavailable

STORE_RETRY_AFTER = "2"  # seconds: a restarted or failed-over store is usually back by then


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields, self.headers = fields, headers


def error_response(
    status: int,
    code: str,
    message: str,
    fields: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return Response(orjson.dumps({"error": body}), status_code=status, media_type="application/json", headers=headers)


def validation_fields(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors as ``[{field, problem, message}]`` (dotted field paths)."""
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "problem": err["type"], "message": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "unavailable",
}


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(
        exc.status_code, _HTTP_CODES.get(exc.status_code, "http_error"), exc.detail or "", headers=exc.headers
    )


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    return error_response(422, "validation_failed", "The request body is not valid.", validation_fields(exc))


def store_unavailable() -> ApiError:
    return ApiError(
        503,
        "store_unavailable",
        "The database is unavailable or did not answer in time; retry after a moment.",
        headers={"Retry-After": STORE_RETRY_AFTER},
    )


async def store_error_handler(request: Request, exc: Exception) -> Response:
    """A store that did not answer in time: 503. Any other store error stays a 500."""
    if not unavailable(exc):
        raise exc
    return await api_error_handler(request, store_unavailable())


EXCEPTION_HANDLERS = {
    ApiError: api_error_handler,
    HTTPException: http_exception_handler,
    ValidationError: validation_error_handler,
    PyMongoError: store_error_handler,
}
