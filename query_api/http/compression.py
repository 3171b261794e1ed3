"""gzip for responses that are not already encoded (cached entries come pre-compressed)."""

from __future__ import annotations

import gzip

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from query_api.http.buffered import header, rewriting_send, set_header
from query_api.responses import accepts_gzip

MIN_BYTES = 512


class GZipMiddleware:
    def __init__(self, app: ASGIApp, min_bytes: int = MIN_BYTES, level: int = 5) -> None:
        self.app, self.min_bytes, self.level = app, min_bytes, level

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not accepts_gzip(scope):
            return await self.app(scope, receive, send)

        def wants(start: Message) -> bool:
            return start["status"] not in (204, 304) and header(start, b"content-encoding") is None

        async def rewrite(start: Message, body: bytes) -> tuple[Message, bytes]:
            if len(body) < self.min_bytes:
                return start, body
            body = gzip.compress(body, compresslevel=self.level, mtime=0)
            headers = list(start.get("headers", ()))
            headers = set_header(headers, b"content-encoding", b"gzip")
            headers = set_header(headers, b"content-length", str(len(body)).encode())
            if header(start, b"vary") is None:
                headers.append((b"vary", b"Accept-Encoding"))
            return {**start, "headers": headers}, body

        await self.app(scope, receive, rewriting_send(send, wants, rewrite))
