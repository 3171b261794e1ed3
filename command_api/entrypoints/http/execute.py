"""The one path every command request takes.

authenticate → parse the body into the command → claim the Idempotency-Key → run the
handler (within a deadline) → 202 ``{id, version, correlation_id, location}`` with a
``Location`` on the query API. Domain errors become 4xx here, in one place.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from shared.http.auth import KeyKind, authenticate
from shared.http.body import parse_body
from shared.http.correlation import correlation_id
from shared.http.errors import ApiError

from command_api.adapters.idempotency import StoredResponse, command_id_for, request_fingerprint
from command_api.application.commands import Command
from command_api.application.handlers import Services, Target
from command_api.application.repository import CommandContext, Saved
from command_api.domain.aggregate import DomainError

Handler = Callable[[Any, Target, Services], Awaitable[Saved]]

IDEMPOTENCY_HEADER = "idempotency-key"
_VERSION = re.compile(r'^(?:W/)?"?([0-9]{1,12})"?$')


async def execute(
    request: Request,
    command_model: type[Command],
    handler: Handler,
    *,
    resource: str,
    allow: tuple[KeyKind, ...] = ("secret",),
) -> Response:
    state = request.state
    settings = state.settings
    principal = await authenticate(request, state.keys, allow=allow)
    command = await parse_body(
        request, command_model, settings.max_body_bytes, allow_empty=not _has_required_fields(command_model)
    )
    corr = correlation_id(request)
    expected_version = _if_match(request)

    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not (0 < len(key) <= 255):
        raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 characters.")
    command_id = command_id_for(principal.merchant_id, key) if key else uuid.uuid4().hex
    target = Target(
        CommandContext(principal.merchant_id, command_id, corr, keyed=key is not None),
        request.path_params.get("id"),
        expected_version,
    )

    async def run() -> StoredResponse:
        return await _run(handler, command, target, state.services, resource, settings)

    if key is None:
        return _respond(await run(), corr)

    fingerprint = request_fingerprint(
        request.method, request.url.path, [command.model_dump(mode="json"), expected_version]
    )
    earlier = await state.idempotency.begin(command_id, fingerprint)
    if earlier is not None:
        return _respond(earlier, corr, replayed=True)
    try:
        stored = await run()
    except BaseException:
        await state.idempotency.release(command_id)  # transient failure: let a retry run
        raise
    await state.idempotency.complete(command_id, stored)
    return _respond(stored, corr)


async def _run(
    handler: Handler, command: Command, target: Target, services: Services, resource: str, settings
) -> StoredResponse:
    try:
        async with asyncio.timeout(settings.command_timeout_seconds):
            saved = await handler(command, target, services)
    except DomainError as exc:
        body = {"error": {"code": exc.code, "message": exc.message, **exc.details}}
        return StoredResponse(exc.status, body)
    except TimeoutError:
        # Nothing half-done is lost: the relay and the reconciler finish or undo it.
        raise ApiError(
            503,
            "timeout",
            "The command took too long; retry with the same Idempotency-Key.",
            headers={"Retry-After": "1"},
        ) from None
    return StoredResponse(
        202,
        {
            "id": saved.aggregate_id,
            "version": saved.version,
            "correlation_id": target.ctx.correlation_id,
            "location": f"{settings.query_api_url}/v1/{resource}/{saved.aggregate_id}",
        },
    )


def _if_match(request: Request) -> int | None:
    raw = request.headers.get("if-match")
    if raw is None or "id" not in request.path_params:
        return None
    match = _VERSION.match(raw.strip())
    if match is None:
        raise ApiError(400, "invalid_if_match", "If-Match must be the aggregate version, e.g. 'If-Match: 3'.")
    return int(match.group(1))


def _has_required_fields(model: type[Command]) -> bool:
    return any(field.is_required() for field in model.model_fields.values())


def _respond(stored: StoredResponse, corr: str, *, replayed: bool = False) -> Response:
    headers = {"X-Correlation-ID": corr}
    if stored.status == 202:
        headers["Location"] = stored.body["location"]
        headers["ETag"] = f'"{stored.body["version"]}"'
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        orjson.dumps(stored.body), status_code=stored.status, media_type="application/json", headers=headers
    )
