"""CORS for browser storefronts: configurable origins, preflight answered here.

Credentials are never allowed (keys travel in ``Authorization``, which a browser storefront
sends explicitly), so ``*`` is safe for the public catalogue. Each API states what a page
may send and read: the query API ``GET`` with its read headers, the command API ``POST``
and ``PATCH`` with ``Idempotency-Key`` and ``If-Match`` (a storefront's checkout places
orders with its publishable key). A preflight from an origin not listed is a ``403``.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True)
class CorsPolicy:
    """What a page of an allowed origin may send, and read back."""

    allow_methods: str
    allow_headers: str
    expose_headers: str


READS = CorsPolicy(
    allow_methods="GET, HEAD, OPTIONS",
    allow_headers="Authorization, If-None-Match, X-Min-Version, X-Correlation-ID, Content-Type",
    expose_headers="ETag, Age, X-Cache, Retry-After, X-Correlation-ID",
)
COMMANDS = CorsPolicy(
    allow_methods="POST, PATCH, OPTIONS",
    allow_headers="Authorization, Content-Type, Idempotency-Key, If-Match, X-Correlation-ID",
    expose_headers="Location, ETag, Retry-After, X-Correlation-ID, Idempotent-Replayed",
)


def origins(setting: str) -> list[str]:
    """``"https://a.example, https://b.example"`` → the list (empty: CORS off)."""
    return [o.strip() for o in setting.split(",") if o.strip()]


class CorsMiddleware:
    def __init__(self, app: ASGIApp, allow_origins: list[str], policy: CorsPolicy, max_age: int = 600) -> None:
        self.app = app
        self.any_origin = "*" in allow_origins
        self.origins = {o.encode() for o in allow_origins}
        self.allow_methods, self.allow_headers = policy.allow_methods.encode(), policy.allow_headers.encode()
        self.expose_headers = policy.expose_headers.encode()
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
                    (b"access-control-allow-methods", self.allow_methods),
                    (b"access-control-allow-headers", self.allow_headers),
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
                    (b"access-control-expose-headers", self.expose_headers),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cors)
