"""Request size limits: a long URL is a 414 and a request body (reads take none) is a 413,
answered before any routing or parsing."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.http.errors import error_response


class RequestLimitsMiddleware:
    def __init__(self, app: ASGIApp, max_url_bytes: int, max_body_bytes: int) -> None:
        self.app, self.max_url, self.max_body = app, max_url_bytes, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if len(scope["path"]) + len(scope["query_string"]) > self.max_url:
            response = error_response(414, "uri_too_long", f"The URL exceeds {self.max_url} bytes.")
            return await response(scope, receive, send)
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_body):
                response = error_response(413, "payload_too_large", f"The body exceeds {self.max_body} bytes.")
                return await response(scope, receive, send)
        await self.app(scope, receive, send)
