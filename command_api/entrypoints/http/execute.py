"""The one path every command request takes.

authenticate → parse the body into the command → run the handler
→ 202 ``{id, version, correlation_id, location}`` with a ``Location`` on the query API.
Domain errors become 4xx here, in one place.

**Bounded.** One deadline (``command_timeout_seconds``) starts with the request and
covers the key lookup and the handler (503 ``timeout`` past it); the body must arrive
within ``body_timeout_seconds`` (408 ``body_timeout``), so a client trickling its body
holds a slot that long at most — or within what is left of the deadline, if less: past
that it is the deadline's 503 ``timeout``. A store that cannot be reached in time fails the
request at once with 503 ``store_unavailable`` (``shared.mongo.unavailable``): nothing
more is asked of it. The endpoint calls the handler itself, so
an endpoint reaches the event store in four calls (endpoint → handler → repository →
store; tests/unit/test_call_depth.py).

With an ``Idempotency-Key`` (``command_api.application.idempotency``): the command's own
record is the key's record. A duplicate running in this process is waited for; a record
found by the store (``DuplicateCommand``) is replayed, or refused with 422 when the request
differs; a keyed answer that appended nothing is stored as an outcome.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from shared.http.auth import KeyKind, Principal, authenticate
from shared.http.body import parse_body
from shared.http.correlation import correlation_id
from shared.http.errors import ApiError
from shared.mongo import unavailable

from command_api.application.commands import Command
from command_api.application.handlers import Services, Target
from command_api.application.idempotency import (
    AnswerRecorded,
    FirstAttemptFailed,
    accepted,
    bind,
    command_id_for,
    refusal,
    remember,
    replay,
    request_fingerprint,
)
from command_api.application.ports import Answer, DuplicateCommand, Outcome
from command_api.application.repository import CommandContext, Saved
from command_api.bootstrap import CommandSide
from command_api.domain.aggregate import DomainError

Handler = Callable[[Any, Target, Services], Awaitable[Saved]]
Endpoint = Callable[[Request], Awaitable[Response]]

IDEMPOTENCY_HEADER = "idempotency-key"
_VERSION = re.compile(r'^(?:W/)?"?([0-9]{1,12})"?$')


def command_side(request: Request) -> CommandSide:
    """The lifespan's ``CommandSide`` (``create_app``), typed."""
    side = request.state.command_side
    assert isinstance(side, CommandSide)
    return side


@dataclass(frozen=True)
class Incoming:
    command: Command
    target: Target
    location: Callable[[str], str]  # aggregate id -> its URL on the query API

    @property
    def ctx(self) -> CommandContext:
        return self.target.ctx


def command_endpoint(
    command_model: type[Command], handler: Handler, resource: str, allow: tuple[KeyKind, ...]
) -> Endpoint:
    allow_empty = not any(field.is_required() for field in command_model.model_fields.values())

    async def endpoint(request: Request) -> Response:
        side = command_side(request)
        deadline = asyncio.get_running_loop().time() + side.settings.command_timeout_seconds
        try:
            async with asyncio.timeout_at(deadline):
                principal = await authenticate(request, side.keys, allow=allow)
        except TimeoutError:
            raise _timeout() from None
        incoming = await _incoming(request, side, principal, command_model, resource, deadline, allow_empty)
        ctx = incoming.ctx
        if ctx.keyed and (earlier := await _wait_for_duplicate(side, ctx)) is not None:
            return _respond(earlier, ctx.correlation_id, replayed=True)
        with side.in_flight.run(ctx.command_id, ctx.fingerprint, track=ctx.keyed) as answered:
            replayed = False
            try:
                async with asyncio.timeout_at(deadline):
                    saved = await handler(incoming.command, incoming.target, side.services)
                    answer = await _answer_for(saved, incoming, side)
            except DomainError as exc:
                answer, replayed = await _refused(exc, incoming, side)
            except AnswerRecorded as recorded:
                answer = recorded.answer
            except DuplicateCommand as dup:
                answer, replayed = replay(dup.earlier, ctx.fingerprint, incoming.location), True
            except TimeoutError:  # nothing half-done is lost: the relay finishes or undoes it
                if (found := await _after_failure(incoming, side)) is None:
                    raise _timeout() from None
                answer, replayed = found, True
            except Exception as exc:
                if unavailable(exc) or (found := await _after_failure(incoming, side)) is None:
                    raise  # a store that did not answer: 503 (shared.http.errors), nothing more asked of it
                answer, replayed = found, True
            answered.set_result(answer)
        return _respond(answer, ctx.correlation_id, replayed=replayed)

    endpoint.__name__ = handler.__name__
    return endpoint


async def _incoming(
    request: Request,
    side: CommandSide,
    principal: Principal,
    command_model: type[Command],
    resource: str,
    deadline: float,
    allow_empty: bool,
) -> Incoming:
    settings = side.settings
    remaining = deadline - asyncio.get_running_loop().time()
    try:
        command = await parse_body(
            request,
            command_model,
            settings.max_body_bytes,
            allow_empty=allow_empty,
            timeout=max(0.0, min(settings.body_timeout_seconds, remaining)),
        )
    except ApiError as exc:
        if exc.code == "body_timeout" and remaining < settings.body_timeout_seconds:
            # The command's deadline ran out while the body came, not the body's own: 503
            # like any command past its deadline (the unread rest: the connection closes).
            raise _timeout(close=True) from None
        raise
    expected_version = _if_match(request)
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not (0 < len(key) <= 255):
        raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 characters.")
    fingerprint = None
    if key is not None:
        fingerprint = request_fingerprint(
            request.method, request.url.path, [command.model_dump(mode="json"), expected_version]
        )
    ctx = CommandContext(
        principal.merchant_id,
        command_id_for(principal.merchant_id, key) if key else uuid.uuid4().hex,
        correlation_id(request),
        fingerprint,
    )
    base = f"{settings.query_api_url}/v1/{resource}/"
    return Incoming(command, Target(ctx, request.path_params.get("id"), expected_version), lambda i: base + i)


async def _wait_for_duplicate(side: CommandSide, ctx: CommandContext) -> Answer | None:
    """The answer of the same key's command running in this process (``None``: none runs,
    or it failed without an answer — then this request runs it)."""
    running = side.in_flight.running(ctx.command_id)
    if running is None:
        return None
    fingerprint, answer = running
    if fingerprint != ctx.fingerprint:
        raise ApiError(422, "idempotency_key_reused", "This Idempotency-Key was used with a different request.")
    try:
        async with asyncio.timeout(side.settings.command_timeout_seconds):
            return await asyncio.shield(answer)
    except TimeoutError:
        raise ApiError(
            409,
            "request_in_progress",
            "A request with this Idempotency-Key is still being processed; retry.",
            headers={"Retry-After": "1"},
        ) from None
    except FirstAttemptFailed:
        return None


async def _answer_for(saved: Saved, incoming: Incoming, side: CommandSide) -> Answer:
    answer = accepted(
        saved.aggregate_id, saved.version, incoming.ctx.correlation_id, incoming.location(saved.aggregate_id)
    )
    if saved.commit is None and incoming.ctx.keyed:  # changed nothing: no commit holds the answer
        await remember(side.store, incoming.ctx, answer)
    return answer


async def _refused(error: DomainError, incoming: Incoming, side: CommandSide) -> tuple[Answer, bool]:
    """The refusal's answer, stored for a keyed command; ``True`` when an earlier answer
    of the key is given instead (replayed)."""
    answer = refusal(error)
    if incoming.ctx.keyed:
        try:
            await remember(side.store, incoming.ctx, answer)
        except DuplicateCommand as dup:  # the key acted (or was answered) before: that answer
            return replay(dup.earlier, incoming.ctx.fingerprint, incoming.location), True
    return answer, False


def _timeout(*, close: bool = False) -> ApiError:
    return ApiError(
        503,
        "timeout",
        "The command took too long; retry with the same Idempotency-Key.",
        headers={"Retry-After": "1", **({"Connection": "close"} if close else {})},
    )


async def _after_failure(incoming: Incoming, side: CommandSide) -> Answer | None:
    """A command that failed without an answer. Keyed, its fingerprint is bound to the key
    (``bind``) — or the key's record is found: another request's (422), or this request's
    answer after all (replayed). ``None``: the failure stands (503 for a timeout)."""
    ctx = incoming.ctx
    earlier = await bind(side.store, ctx) if ctx.keyed else None
    if earlier is None or (isinstance(earlier, Outcome) and earlier.binding and earlier.fingerprint == ctx.fingerprint):
        return None
    return replay(earlier, ctx.fingerprint, incoming.location)


def _if_match(request: Request) -> int | None:
    raw = request.headers.get("if-match")
    if raw is None or "id" not in request.path_params:
        return None
    match = _VERSION.match(raw.strip())
    if match is None:
        raise ApiError(400, "invalid_if_match", "If-Match must be the aggregate version, e.g. 'If-Match: 3'.")
    return int(match.group(1))


def _respond(answer: Answer, corr: str, *, replayed: bool = False) -> Response:
    headers = {"X-Correlation-ID": corr}
    if answer.status == 202:
        headers["Location"] = answer.body["location"]
        headers["ETag"] = f'"{answer.body["version"]}"'
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        orjson.dumps(answer.body), status_code=answer.status, media_type="application/json", headers=headers
    )
