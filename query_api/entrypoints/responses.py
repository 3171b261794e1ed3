"""Sending a cached entry: ETag / 304, br/zstd/gzip as negotiated, Cache-Control — no
serialisation, and compression at most once per entry and coding.

The response is a bare ASGI callable with its raw headers, so a cache hit costs a dict
lookup and two ``send`` calls.
"""

from __future__ import annotations

import math

from starlette.types import Receive, Scope, Send

from query_api.adapters.cache.entry import Entry
from query_api.adapters.encodings import accept_encoding, choose

PUBLIC = b"public, no-cache"  # shared caches may store, but must revalidate (ETag → 304)
PRIVATE = b"private, no-cache"  # never in a shared cache: merchant data

_JSON = (b"content-type", b"application/json")
_VARY_PUBLIC = (b"vary", b"Accept-Encoding")
_VARY_PRIVATE = (b"vary", b"Accept-Encoding, Authorization")
_STALE = (b"x-cache", b"stale")
_CODINGS = {"br": b"br", "zstd": b"zstd", "gzip": b"gzip"}


def if_none_match(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            return bytes(value)
    return None


def etag_matches(header: bytes, etag: bytes) -> bool:
    if header.strip() == b"*":
        return True
    opaque = etag.removeprefix(b"W/")
    return any(tag.strip().removeprefix(b"W/") == opaque for tag in header.split(b","))


class CachedResponse:
    """``stale_for``: seconds since the entry was last known current, when it is served
    stale while it reloads — said by ``Age`` (whole seconds, rounded up) and
    ``X-Cache: stale``; absent on a current answer."""

    __slots__ = ("entry", "cache_control", "status_code", "stale_for")

    def __init__(self, entry: Entry, cache_control: bytes = PUBLIC, stale_for: float | None = None) -> None:
        self.entry, self.cache_control, self.status_code = entry, cache_control, 200
        self.stale_for = stale_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        entry = self.entry
        etag = entry.etag.encode()
        vary = _VARY_PUBLIC if self.cache_control is PUBLIC else _VARY_PRIVATE
        headers = [(b"etag", etag), (b"cache-control", self.cache_control), vary]
        if self.stale_for is not None:
            headers += [(b"age", str(max(1, math.ceil(self.stale_for))).encode()), _STALE]
        inm = if_none_match(scope)
        if inm is not None and etag_matches(inm, etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        body = entry.body
        coding = choose(accept_encoding(scope["headers"]))
        if coding is not None:
            encoded = entry.encoded_as(coding)
            if encoded is not None:
                body = encoded
                headers.append((b"content-encoding", _CODINGS[coding]))
        headers += [_JSON, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
