"""The one path every command request takes.

authenticate → parse the body into the command → claim the Idempotency-Key → run the
handler → 202 ``{id, version, correlation_id}`` with a ``Location`` on the query API.
Domain errors become 4xx here, in one place.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response

from shared.http.auth import KeyKind, authenticate
from shared.http.body import parse_body
from shared.http.correlation import correlation_id
from shared.http.errors import ApiError

from command_api.commands import Command
from command_api.domain.aggregate import DomainError
from command_api.event_store import Commit
from command_api.handlers import Services
from command_api.idempotency import StoredResponse, command_id_for, request_fingerprint
from command_api.repository import CommandContext

C = TypeVar("C", bound=Command)
Handler = Callable[[C, CommandContext, Services], Awaitable[Commit]]

IDEMPOTENCY_HEADER = "idempotency-key"


async def execute(request: Request, command_model: type[C], handler: Handler, *,
                  resource: str, allow: tuple[KeyKind, ...] = ("secret",)) -> Response:
    state = request.state
    principal = await authenticate(request, state.keys, allow=allow)
    command = await parse_body(request, command_model, state.settings.max_body_bytes)
    corr = correlation_id(request)

    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not (0 < len(key) <= 255):
        raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 characters.")
    command_id = command_id_for(principal.merchant_id, key) if key else uuid.uuid4().hex
    ctx = CommandContext(principal.merchant_id, command_id, corr)

    if key is None:
        stored = await _run(handler, command, ctx, state.services, resource, state.settings.query_api_url)
        return _respond(stored, corr)

    fingerprint = request_fingerprint(request.method, request.url.path, command.model_dump(mode="json"))
    earlier = await state.idempotency.begin(command_id, fingerprint)
    if earlier is not None:
        return _respond(earlier, corr, replayed=True)
    try:
        stored = await _run(handler, command, ctx, state.services, resource, state.settings.query_api_url)
    except BaseException:
        await state.idempotency.release(command_id)  # transient failure: let a retry run
        raise
    await state.idempotency.complete(command_id, stored)
    return _respond(stored, corr)


async def _run(handler: Handler, command: Command, ctx: CommandContext, services: Services,
               resource: str, query_api_url: str) -> StoredResponse:
    try:
        commit = await handler(command, ctx, services)
    except DomainError as exc:
        body = {"error": {"code": exc.code, "message": exc.message, **exc.details}}
        return StoredResponse(exc.status, body)
    return StoredResponse(202, {
        "id": commit.aggregate_id,
        "version": commit.last_version,
        "correlation_id": commit.events[0].correlation_id,
        "location": f"{query_api_url}/v1/{resource}/{commit.aggregate_id}",
    })


def _respond(stored: StoredResponse, corr: str, *, replayed: bool = False) -> Response:
    headers = {"X-Correlation-ID": corr}
    if stored.status == 202:
        headers["Location"] = stored.body["location"]
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(orjson.dumps(stored.body), status_code=stored.status,
                    media_type="application/json", headers=headers)
