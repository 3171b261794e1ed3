"""Compression (br, zstd or gzip, as negotiated) for responses that are not already encoded
(cached entries come pre-compressed, see ``query_api.adapters.cache.entry``)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from query_api.adapters.encodings import MIN_BYTES, accept_encoding, choose, compress
from query_api.entrypoints.http.buffered import header, rewriting_send, set_header


class CompressionMiddleware:
    def __init__(self, app: ASGIApp, min_bytes: int = MIN_BYTES) -> None:
        self.app, self.min_bytes = app, min_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        coding = choose(accept_encoding(scope["headers"])) if scope["type"] == "http" else None
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
            if header(start, b"vary") is None:
                headers.append((b"vary", b"Accept-Encoding"))
            return {**start, "headers": headers}, body

        await self.app(scope, receive, rewriting_send(send, wants, rewrite))
