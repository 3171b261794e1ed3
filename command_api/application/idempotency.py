"""Idempotency keys: a retried request gets the original answer, and acts once.

There is no claim record: the command's own record is the key's record (docs/api.md).
The command id is derived from ``(merchant, Idempotency-Key)`` and is unique in the
event store across commits and outcomes, so:

- a command that appended events: its commit (with the request ``fingerprint``) is the
  record, and its 202 is rebuilt from it (``replay``) — the common command costs its
  append and nothing more;
- a command that appended nothing (a refusal, a no-op): its answer is stored as an
  ``Outcome`` (``remember``) — one insert, on the uncommon path;
- a second attempt's append or outcome is refused with ``DuplicateCommand`` carrying the
  first record: the caller replays it if the fingerprints match, else answers 422
  ``idempotency_key_reused``. One unique index decides, so of two concurrent attempts
  (even in two processes) exactly one answer is stored, and a key keeps the fingerprint
  of its first record for good;
- within a process, a duplicate of a command still running waits for its answer
  (``InFlight``) instead of running beside it.

An attempt that fails without an answer (it timed out, the store failed) leaves a
**binding** under its key — its fingerprint, no answer (``bind``) — unless its own record
got stored: another body is then 422 for good, and the same request removes the binding
and runs (``rebinds``). Only an attempt whose process died before storing anything leaves
no trace: nothing was done under the key, and its next request runs as the first.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import orjson

from shared.http.errors import ApiError

from command_api.application.ports import Answer, DuplicateCommand, EventStorePort, Outcome, Record, rebinds
from command_api.application.repository import CommandContext
from command_api.domain.aggregate import DomainError


def command_id_for(merchant_id: str, key: str) -> str:
    return hashlib.sha256(f"{merchant_id}\x00{key}".encode()).hexdigest()


def request_fingerprint(method: str, path: str, body: object) -> str:
    return hashlib.sha256(orjson.dumps([method, path, body], option=orjson.OPT_SORT_KEYS)).hexdigest()


def refusal(error: DomainError) -> Answer:
    return Answer(error.status, {"error": {"code": error.code, "message": error.message, **error.details}})


def accepted(aggregate_id: str, version: int, correlation_id: str, location: str) -> Answer:
    return Answer(202, {"id": aggregate_id, "version": version, "correlation_id": correlation_id, "location": location})


class AnswerRecorded(Exception):
    """A refusal whose outcome the handler already stored (the placement fences its
    command id before giving stock back): answer it, do not store it again."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status)
        self.answer = answer


KEY_REUSED = ApiError(422, "idempotency_key_reused", "This Idempotency-Key was used with a different request.")


async def remember(store: EventStorePort, ctx: CommandContext, answer: Answer) -> Answer:
    """Store a keyed command's answer that appended nothing. Raises ``DuplicateCommand``
    when the key already has a record (the command acted, or was answered, before)."""
    outcome = Outcome(ctx.command_id, ctx.merchant_id, answer, ctx.fingerprint)
    try:
        await store.append(outcome)
    except DuplicateCommand as dup:
        if not rebinds(dup, ctx.command_id, ctx.fingerprint):
            raise
        await store.unbind(ctx.command_id, ctx.fingerprint)
        await store.append(outcome)
    return answer


async def bind(store: EventStorePort, ctx: CommandContext) -> Record | None:
    """After a keyed attempt failed without an answer: keep its fingerprint under the key
    (a binding), so the key refuses any other request for good. Returns the key's record
    if it already has one (the command did act, was answered, or another request bound
    it). Best effort, bounded: if the store cannot take it either, the key stays free
    (nothing was done under it)."""
    try:
        async with asyncio.timeout(BIND_SECONDS):
            await store.append(Outcome(ctx.command_id, ctx.merchant_id, None, ctx.fingerprint))
    except DuplicateCommand as dup:
        return dup.earlier
    except Exception:
        pass  # the store is away too
    return None


BIND_SECONDS = 2.0


def replay(earlier: Record, fingerprint: str | None, location: Callable[[str], str]) -> Answer:
    """The earlier record's answer for a request with this fingerprint (422 if it differs)."""
    if earlier.fingerprint != fingerprint:
        raise KEY_REUSED
    if isinstance(earlier, Outcome):
        if earlier.answer is None:  # the same request's failed attempt, being retried right now
            raise ApiError(
                409,
                "request_in_progress",
                "A request with this Idempotency-Key is still being processed; retry.",
                headers={"Retry-After": "1"},
            )
        return earlier.answer
    return accepted(earlier.aggregate_id, earlier.last_version, earlier.correlation_id, location(earlier.aggregate_id))


class InFlight:
    """Keyed commands running in this process: a duplicate waits for the first's answer."""

    def __init__(self) -> None:
        self._running: dict[str, tuple[str | None, asyncio.Future[Answer]]] = {}

    def running(self, command_id: str) -> tuple[str | None, asyncio.Future[Answer]] | None:
        return self._running.get(command_id)

    @contextmanager
    def run(self, command_id: str, fingerprint: str | None, *, track: bool = True) -> Iterator[asyncio.Future[Answer]]:
        """While the command runs, duplicates find it (``track``: a keyed command); the
        caller sets the future's result to its answer."""
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        if track:
            self._running[command_id] = (fingerprint, future)
        try:
            yield future
        finally:
            if track and self._running.get(command_id, (None, None))[1] is future:
                del self._running[command_id]
            if not future.done():  # it failed: the waiters run the command themselves
                future.set_exception(FirstAttemptFailed(command_id))
                future.exception()  # maybe nobody waits: mark it retrieved


class FirstAttemptFailed(Exception):
    """The attempt a duplicate was waiting for ended without an answer."""
