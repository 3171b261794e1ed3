"""Reading a JSON request body into a pydantic model, with clear 4xx errors.

With a ``timeout``, the whole body must arrive within it, else ``408 body_timeout`` (and
the connection is closed): a client that trickles its body, by accident or to hold the
server's slots, holds one that long at most.

A string holding U+0000 anywhere in the body is a ``422 validation_failed`` naming the
field: no text of ours needs it, and the PostgreSQL-backed stores cannot store it.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request

from shared.http.errors import ApiError, validation_fields

Model = TypeVar("Model", bound=BaseModel)

_JSON_TYPES = ("application/json", "", "application/x-www-form-urlencoded")


async def read_json(
    request: Request, max_bytes: int, *, allow_empty: bool = False, timeout: float | None = None
) -> object:
    """The parsed body; ``allow_empty``: no body at all reads as ``{}``; ``timeout``:
    seconds the whole body may take to arrive (408 past it)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(413, "payload_too_large", f"The body exceeds {max_bytes} bytes.")
    try:
        async with asyncio.timeout(timeout):
            raw = await _read_body(request, max_bytes)
    except TimeoutError:
        raise ApiError(
            408,
            "body_timeout",
            f"The request body did not arrive within {timeout:g} s.",
            headers={"Connection": "close"},
        ) from None
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    # curl -d sends form-urlencoded unless told otherwise; its body is still our JSON.
    if raw and content_type not in _JSON_TYPES and not content_type.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    if not raw and allow_empty:
        return {}
    if not raw:
        raise ApiError(400, "malformed_json", "The request body is empty; send a JSON object.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"The request body is not valid JSON: {exc}") from None


async def _read_body(request: Request, max_bytes: int) -> bytes:
    chunks, size = [], 0
    try:
        async for chunk in request.stream():  # counted as it arrives: a lying length cannot pass
            size += len(chunk)
            if size > max_bytes:
                raise ApiError(413, "payload_too_large", f"The body exceeds {max_bytes} bytes.")
            chunks.append(chunk)
    except ClientDisconnect:
        # The client gave up before its body was read (seen under overload): nothing was
        # done and nobody reads the answer; a 4xx, not an unhandled exception (a 500).
        raise ApiError(400, "client_disconnected", "The client disconnected before sending its body.") from None
    return b"".join(chunks)


def nul_fields(value: object, path: str = "") -> list[str]:
    """The dotted paths of every string (key or value) holding U+0000."""
    if isinstance(value, str):
        return [path or "body"] if "\x00" in value else []
    if isinstance(value, dict):
        found = [f"{path}.{k}".lstrip(".") for k in value if "\x00" in k]
        return found + [f for k, v in value.items() for f in nul_fields(v, f"{path}.{k}".lstrip("."))]
    if isinstance(value, list):
        return [f for i, v in enumerate(value) for f in nul_fields(v, f"{path}.{i}".lstrip("."))]
    return []


async def parse_body(
    request: Request, model: type[Model], max_bytes: int, *, allow_empty: bool = False, timeout: float | None = None
) -> Model:
    payload = await read_json(request, max_bytes, allow_empty=allow_empty, timeout=timeout)
    if not isinstance(payload, dict):
        raise ApiError(
            422,
            "validation_failed",
            "The request body must be a JSON object.",
            [{"field": "body", "problem": "object_type", "message": "expected an object"}],
        )
    if found := nul_fields(payload):
        problem = {"problem": "nul_character", "message": "must not contain U+0000"}
        raise ApiError(
            422, "validation_failed", "The request body is not valid.", [{"field": f, **problem} for f in found]
        )
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise ApiError(422, "validation_failed", "The request body is not valid.", validation_fields(exc)) from None
