"""Compression (br, zstd or gzip, as negotiated) for responses that are not already encoded
(cached entries come pre-compressed, see ``query_api.adapters.cache.entry``).

Every answer that passes here says ``Vary: Accept-Encoding`` — compressed or not, small or
not, whatever the request offered: its body could have been compressed for another
``Accept-Encoding``, so a shared cache must not hand this form to a client that asked
differently. An existing ``Vary`` (``Authorization`` on merchant data) is kept and extended.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from query_api.adapters.encodings import MIN_BYTES, accept_encoding, choose, compress
from query_api.entrypoints.http.buffered import header, rewriting_send, set_header

ACCEPT_ENCODING = b"Accept-Encoding"


class CompressionMiddleware:
    def __init__(self, app: ASGIApp, min_bytes: int = MIN_BYTES) -> None:
        self.app, self.min_bytes = app, min_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        send = varying(send)
        coding = choose(accept_encoding(scope["headers"]))
        if coding is None:
            return await self.app(scope, receive, send)

        def wants(start: Message) -> bool:
            return start["status"] not in (204, 304) and header(start, b"content-encoding") is None

        async def rewrite(start: Message, body: bytes) -> tuple[Message, bytes]:
            if len(body) < self.min_bytes:
                return start, body
            body = compress(coding, body)
            headers = list(start.get("headers", ()))
            headers = set_header(headers, b"content-encoding", coding.encode())
            headers = set_header(headers, b"content-length", str(len(body)).encode())
            return {**start, "headers": headers}, body

        await self.app(scope, receive, rewriting_send(send, wants, rewrite))


def varying(send: Send) -> Send:
    """``send`` with ``Accept-Encoding`` in the ``Vary`` of the response's start."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            vary = header(message, b"vary")
            if vary is None or ACCEPT_ENCODING.lower() not in vary.lower():
                value = ACCEPT_ENCODING if vary is None else vary + b", " + ACCEPT_ENCODING
                message = {**message, "headers": set_header(list(message.get("headers", ())), b"vary", value)}
        await send(message)

    return wrapped
