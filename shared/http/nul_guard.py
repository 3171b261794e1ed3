"""A URL holding NUL (``%00``) is a ``400 invalid_parameter``, answered before routing.

No identifier or parameter of ours may contain U+0000, and the PostgreSQL-backed stores
cannot even compare with it (FerretDB answers an internal error, which would surface as a
500): refusing it here covers every path parameter and query parameter of both APIs at
once. Request bodies are checked field by field when parsed (``shared.http.body``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.http.errors import error_response


def holds_nul(scope: Scope) -> bool:
    query = scope.get("query_string", b"")
    return "\x00" in scope["path"] or b"\x00" in query or b"%00" in query


class NulGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and holds_nul(scope):
            message = "The URL holds a NUL character (%00), which no identifier or parameter may contain."
            fields = [{"field": "url", "problem": "nul_character", "message": message}]
            return await error_response(400, "invalid_parameter", message, fields)(scope, receive, send)
        await self.app(scope, receive, send)
