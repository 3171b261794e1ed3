"""A store that cannot be reached in time is a 503 with Retry-After; its answers are not."""

from __future__ import annotations

import httpx
import pytest
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    DuplicateKeyError,
    ExecutionTimeout,
    NetworkTimeout,
    ServerSelectionTimeoutError,
    WaitQueueTimeoutError,
)
from starlette.applications import Starlette
from starlette.routing import Route

from shared.http.errors import EXCEPTION_HANDLERS
from shared.mongo import unavailable

UNAVAILABLE = [
    ServerSelectionTimeoutError("no server"),
    NetworkTimeout("timed out"),
    AutoReconnect("connection reset"),
    WaitQueueTimeoutError("pool exhausted"),
    ExecutionTimeout("operation exceeded time limit", 50),
    BulkWriteError({"writeErrors": [{"index": 0, "code": 50, "errmsg": "exceeded time limit"}]}),
]
ANSWERS = [DuplicateKeyError("E11000", 11000), BulkWriteError({"writeErrors": [{"index": 0, "code": 11000}]})]


@pytest.mark.parametrize("error", UNAVAILABLE, ids=lambda e: type(e).__name__)
def test_unreachable_or_late_is_unavailable(error):
    assert unavailable(error)


@pytest.mark.parametrize("error", ANSWERS, ids=lambda e: type(e).__name__)
def test_an_answer_of_the_store_is_not(error):
    assert not unavailable(error)


def _app(error: Exception) -> Starlette:
    async def route(request):
        raise error

    return Starlette(routes=[Route("/r", route)], exception_handlers=EXCEPTION_HANDLERS)


async def test_the_http_answer_is_503_store_unavailable_with_retry_after():
    transport = httpx.ASGITransport(app=_app(ServerSelectionTimeoutError("no server")))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/r")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_unavailable"
    assert int(response.headers["retry-after"]) >= 1


async def test_any_other_store_error_stays_a_server_error():
    transport = httpx.ASGITransport(app=_app(DuplicateKeyError("E11000", 11000)), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/r")
    assert response.status_code == 500
