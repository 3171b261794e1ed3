"""A cached response: the serialised body, its ETag, and its compressed forms, built once.

The forms are kept per content coding (br, zstd, gzip) in the entry itself: the first
request that asks for a coding compresses the body, every later hit on the entry sends the
stored bytes. gzip is made with the entry (L2 stores it, see ``dump``); br and zstd only
when some client asks for them, so a miss pays nothing for codings nobody uses.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from dataclasses import dataclass, field

from query_api.adapters.encodings import GZIP, MIN_BYTES, compress
from query_api.application.pages import PageBounds, PageItems


@dataclass(slots=True)
class Entry:
    body: bytes
    etag: str
    encoded: dict[str, bytes] = field(default_factory=dict)  # coding -> compressed body
    # For a list page: what it covers (L1 then drops it only on changes that can affect it).
    page: PageBounds | None = None
    # The tag whose invalidation ends it, once loaded for a request: hits are recorded by it.
    tag: tuple[str, str] | None = None
    # A list page loaded from MongoDB by this process: its items, so a change that leaves
    # them in place is shown without a reload (L1 only: not stored in L2).
    items: PageItems | None = None

    @classmethod
    def build(cls, body: bytes, gzip_body: bytes | None = None, page: PageBounds | None = None) -> Entry:
        # An exact-size copy: orjson (3.13) returns bytes that keep its growing buffer (a 9.3 KB
        # list page held 16.3 KB), and a cached body lives long. ~1 µs per 10 KB, once per load.
        body = memoryview(body).tobytes()
        digest = hashlib.blake2b(body, digest_size=12).hexdigest()
        entry = cls(body, f'W/"{digest}"', page=page)
        if gzip_body is not None:
            entry.encoded[GZIP] = gzip_body
        elif len(body) >= MIN_BYTES:
            entry.encoded[GZIP] = compress(GZIP, body)
        return entry

    @property
    def gzip(self) -> bytes | None:
        return self.encoded.get(GZIP)

    def encoded_as(self, coding: str) -> bytes | None:
        """The body in ``coding`` (compressed now if it is the first time), or None when the
        body is too small to be worth it."""
        if len(self.body) < MIN_BYTES:
            return None
        encoded = self.encoded.get(coding)
        if encoded is None:
            encoded = self.encoded[coding] = compress(coding, self.body)
        return encoded


# L2 value layout: magic, generation (u64), flags, etag length, etag, [page length (u32),
# page bounds as JSON — flag bit 1], payload. Bit 0: the payload is gzip. Bodies above the
# threshold are stored gzip-compressed: that form is also what a gzip client is sent, so an
# L2 hit needs no compression work. A list page's bounds travel with it, so a process that
# takes it from L2 still drops it only on changes that affect it.
_HEAD = struct.Struct("!2sQBB")
_PAGE_LEN = struct.Struct("!I")
_MAGIC = b"q2"


def dump(entry: Entry, generation: int, compress_min_bytes: int) -> bytes:
    etag = entry.etag.encode()
    flags, payload = 0, entry.body
    if entry.gzip is not None and len(entry.body) >= compress_min_bytes:
        flags, payload = 1, entry.gzip
    page = b""
    if entry.page is not None:
        flags |= 2
        encoded = entry.page.to_json()
        page = _PAGE_LEN.pack(len(encoded)) + encoded
    return _HEAD.pack(_MAGIC, generation, flags, len(etag)) + etag + page + payload


def load(raw: bytes) -> tuple[int, Entry] | None:
    """(generation, entry), or None for a value this version cannot read."""
    if len(raw) < _HEAD.size or raw[:2] != _MAGIC:
        return None
    _, generation, flags, etag_len = _HEAD.unpack_from(raw)
    start = _HEAD.size + etag_len
    etag = raw[_HEAD.size : start].decode()
    page = None
    if flags & 2:
        (page_len,) = _PAGE_LEN.unpack_from(raw, start)
        start += _PAGE_LEN.size
        page = PageBounds.from_json(raw[start : start + page_len])
        start += page_len
    payload = raw[start:]
    if flags & 1:
        return generation, Entry(gzip.decompress(payload), etag, {GZIP: payload}, page)
    entry = Entry(payload, etag, page=page)
    if len(payload) >= MIN_BYTES:
        entry.encoded[GZIP] = compress(GZIP, payload)
    return generation, entry
