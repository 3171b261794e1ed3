"""A cached response: the serialised body, its gzip form and its ETag, built once."""

from __future__ import annotations

import gzip
import hashlib
import struct
from dataclasses import dataclass

# Bodies smaller than this are not worth compressing (gzip framing costs ~20 bytes).
GZIP_MIN_BYTES = 512


@dataclass(frozen=True, slots=True)
class Entry:
    body: bytes
    gzip: bytes | None
    etag: str

    @classmethod
    def build(cls, body: bytes, gzip_body: bytes | None = None) -> Entry:
        if gzip_body is None and len(body) >= GZIP_MIN_BYTES:
            gzip_body = gzip.compress(body, compresslevel=5, mtime=0)
        digest = hashlib.blake2b(body, digest_size=12).hexdigest()
        return cls(body, gzip_body, f'W/"{digest}"')


# L2 value layout: magic, generation (u64), flags (bit 0: payload is gzip), etag length, etag,
# payload. Bodies above the threshold are stored gzip-compressed: that form is also what a
# gzip client is sent, so an L2 hit needs no compression work.
_HEAD = struct.Struct("!2sQBB")
_MAGIC = b"q1"


def dump(entry: Entry, generation: int, compress_min_bytes: int) -> bytes:
    etag = entry.etag.encode()
    if entry.gzip is not None and len(entry.body) >= compress_min_bytes:
        return _HEAD.pack(_MAGIC, generation, 1, len(etag)) + etag + entry.gzip
    return _HEAD.pack(_MAGIC, generation, 0, len(etag)) + etag + entry.body


def load(raw: bytes) -> tuple[int, Entry] | None:
    """(generation, entry), or None for a value this version cannot read."""
    if len(raw) < _HEAD.size or raw[:2] != _MAGIC:
        return None
    _, generation, flags, etag_len = _HEAD.unpack_from(raw)
    start = _HEAD.size + etag_len
    etag = raw[_HEAD.size:start].decode()
    payload = raw[start:]
    if flags & 1:
        return generation, Entry(gzip.decompress(payload), payload, etag)
    gzip_body = gzip.compress(payload, compresslevel=5, mtime=0) if len(payload) >= GZIP_MIN_BYTES else None
    return generation, Entry(payload, gzip_body, etag)
