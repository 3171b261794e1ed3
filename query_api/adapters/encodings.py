"""Content-coding negotiation and the encoders: br, zstd, gzip.

``choose`` reads an ``Accept-Encoding`` value with its q-values (RFC 9110 §12.5.3): the
coding with the highest q wins, ties go to the server's order (br, then zstd, then gzip:
smallest bodies first); ``q=0`` refuses a coding, ``*`` stands for the ones not named, and
``identity`` preferred above every offered coding means no compression. Results are
memoised per header value: browsers send a handful of distinct values, so a cached read
pays one dict lookup, not a parse.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from functools import lru_cache

import brotli
import zstandard

BR, ZSTD, GZIP = "br", "zstd", "gzip"
SERVER_ORDER = (BR, ZSTD, GZIP)
# Bodies smaller than this are sent as they are (framing would eat the gain).
MIN_BYTES = 512

_ZSTD = zstandard.ZstdCompressor(level=3)


def compress(coding: str, body: bytes) -> bytes:
    """Levels chosen for speed on the miss path: a catalogue page (~8 KB) takes well under
    a millisecond in each."""
    if coding == BR:
        compressed: bytes = brotli.compress(body, quality=5)  # brotli ships no types
        return compressed
    if coding == ZSTD:
        return _ZSTD.compress(body)
    return gzip.compress(body, compresslevel=5, mtime=0)


def _qvalues(header: bytes) -> dict[str, float]:
    weights: dict[str, float] = {}
    for part in header.decode("latin-1").lower().split(","):
        coding, *params = (p.strip() for p in part.split(";"))
        if not coding:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = min(1.0, max(0.0, float(value)))
                except ValueError:
                    q = 0.0  # a malformed weight accepts nothing
        weights[coding] = max(q, weights.get(coding, 0.0))  # named twice: the kinder weight
    return weights


@lru_cache(maxsize=512)
def choose(header: bytes | None) -> str | None:
    """The coding to send for this ``Accept-Encoding`` value, None for the plain body."""
    if not header:
        return None
    weights = _qvalues(header)
    star = weights.get("*", 0.0)
    best, best_q = None, 0.0
    for coding in SERVER_ORDER:
        q = weights.get(coding, star)
        if q > best_q:
            best, best_q = coding, q
    if best is not None and weights.get("identity", 0.0) > best_q:
        return None
    return best


def accept_encoding(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name == b"accept-encoding":
            return value
    return None
