"""CORS for browser storefronts: configurable origins, preflight answered here.

Credentials are never allowed (keys travel in ``Authorization``, which a browser storefront
sends explicitly), so ``*`` is safe for the public catalogue.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOW_HEADERS = b"Authorization, If-None-Match, X-Min-Version, X-Correlation-ID, Content-Type"
EXPOSE_HEADERS = b"ETag, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining"


class CorsMiddleware:
    def __init__(self, app: ASGIApp, allow_origins: list[str], max_age: int = 600) -> None:
        self.app = app
        self.any_origin = "*" in allow_origins
        self.origins = {o.encode() for o in allow_origins}
        self.max_age = str(max_age).encode()

    def _allowed(self, origin: bytes) -> bytes | None:
        if self.any_origin:
            return b"*"
        return origin if origin in self.origins else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        origin = next((v for k, v in scope["headers"] if k == b"origin"), None)
        if origin is None:
            return await self.app(scope, receive, send)
        allowed = self._allowed(origin)
        if scope["method"] == "OPTIONS" and any(k == b"access-control-request-method" for k, _ in scope["headers"]):
            status = 204 if allowed else 403
            headers = [(b"vary", b"Origin"), (b"content-length", b"0")]
            if allowed:
                headers += [
                    (b"access-control-allow-origin", allowed),
                    (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
                    (b"access-control-allow-headers", ALLOW_HEADERS),
                    (b"access-control-max-age", self.max_age),
                ]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and allowed:
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"access-control-allow-origin", allowed),
                    (b"access-control-expose-headers", EXPOSE_HEADERS),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cors)
