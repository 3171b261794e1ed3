"""ETags for responses that do not bring their own (cached entries do), and 304 on a
matching ``If-None-Match``: every successful GET carries a validator."""

from __future__ import annotations

import hashlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from query_api.entrypoints.http.buffered import header, rewriting_send, set_header
from query_api.entrypoints.responses import etag_matches, if_none_match


class ETagMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return await self.app(scope, receive, send)

        def wants(start: Message) -> bool:
            return start["status"] == 200 and header(start, b"etag") is None

        async def rewrite(start: Message, body: bytes) -> tuple[Message, bytes]:
            etag = b'W/"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'
            headers = set_header(list(start.get("headers", ())), b"etag", etag)
            inm = if_none_match(scope)
            if inm is not None and etag_matches(inm, etag):
                headers = [(k, v) for k, v in headers if k not in (b"content-length", b"content-type")]
                return {**start, "status": 304, "headers": headers}, b""
            return {**start, "headers": headers}, body

        await self.app(scope, receive, rewriting_send(send, wants, rewrite))
