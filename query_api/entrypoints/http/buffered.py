"""A helper for middleware that rewrites a whole response: holds back the start message
until the (single) body arrives. Streaming responses pass through untouched."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import Message, Send

# (start message, body) -> (start message, body) to send instead
Rewrite = Callable[[Message, bytes], Awaitable[tuple[Message, bytes]]]


def header(message: Message, name: bytes) -> bytes | None:
    for key, value in message.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


Headers = list[tuple[bytes, bytes]]


def set_header(headers: Headers, name: bytes, value: bytes) -> Headers:
    return [(k, v) for k, v in headers if k != name] + [(name, value)]


def rewriting_send(send: Send, wants: Callable[[Message], bool], rewrite: Rewrite) -> Send:
    held: Message | None = None

    async def wrapped(message: Message) -> None:
        nonlocal held
        if message["type"] == "http.response.start":
            if wants(message):
                held = message
                return
            return await send(message)
        if held is not None and message["type"] == "http.response.body":
            start, held = held, None
            if message.get("more_body", False):  # a stream: leave it alone
                await send(start)
                return await send(message)
            start, body = await rewrite(start, message.get("body", b""))
            await send(start)
            return await send({"type": "http.response.body", "body": body})
        await send(message)

    return wrapped
