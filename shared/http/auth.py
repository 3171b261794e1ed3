"""API keys: ``Authorization: Bearer <key>``.

Keys are random tokens stored only as SHA-256 hashes (they carry 256 bits of entropy, so
a fast hash is enough; no password stretching is needed). Secret keys (``sk_``) belong to
merchant dashboards; publishable keys (``pk_``) to storefronts. Lookups are cached in
process for a short TTL so a request does not pay a database round trip. Revocations
reach the cache through Redis (``shared.key_revocation``: within one message's delivery);
without Redis a revoked key stays usable for at most ``ttl`` seconds (docs/security.md).

``Authorization`` is parsed strictly: exactly ``Bearer <key>`` (the scheme in any case,
one space, printable ASCII), else ``401 invalid_authorization``; a token not shaped like
one of our keys is ``401 invalid_api_key`` without a database lookup. Where the app runs
``shared.http.auth_limits``, an address over its failed-authentication budget gets ``429``
instead of a lookup, and a known key's request budget is charged (``429`` beyond it).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Literal, Protocol

from cachetools import TTLCache
from starlette.requests import Request

from shared.http.auth_limits import SCOPE_KEY as LIMITS
from shared.http.auth_limits import AuthLimits
from shared.http.errors import ApiError
from shared.mongo import Database

KeyKind = Literal["secret", "publishable"]
API_KEYS = "api_keys"
_PREFIX = {"secret": "sk_", "publishable": "pk_"}
_BEARER = re.compile(r"(?i:bearer) ([\x21-\x7e]{1,512})")
# What new_key makes (and room for longer ones): anything else is not one of our keys.
_KEY_SHAPE = re.compile(r"[sp]k_[A-Za-z0-9_-]{16,128}")


@dataclass(frozen=True, slots=True)
class Principal:
    merchant_id: str
    kind: KeyKind

    @property
    def is_secret(self) -> bool:
        return self.kind == "secret"


class PrincipalResolver(Protocol):
    """What ``authenticate`` needs: ``KeyResolver`` (MongoDB, cached) or an in-memory twin."""

    async def resolve(self, key: str) -> Principal | None: ...


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(kind: KeyKind) -> str:
    return _PREFIX[kind] + secrets.token_urlsafe(32)


class KeyResolver:
    """Resolves a bearer key to its merchant, with a small in-process TTL cache."""

    def __init__(self, db: Database, ttl: float = 30.0, maxsize: int = 10_000) -> None:
        self._keys = db[API_KEYS]
        self._cache: TTLCache[str, Principal | None] = TTLCache(maxsize, ttl)
        # Bumped by every forget: a lookup that began before one is not cached (it may
        # have read a key the revocation was about).
        self._generation = 0

    async def resolve(self, key: str) -> Principal | None:
        digest = hash_key(key)
        if digest in self._cache:
            return self._cache[digest]
        generation = self._generation
        doc = await self._keys.find_one({"_id": digest, "revoked_at": None})
        principal = Principal(doc["merchant_id"], doc["kind"]) if doc else None
        if generation == self._generation:
            self._cache[digest] = principal
        return principal

    def forget(self, key: str) -> None:
        self._cache.pop(hash_key(key), None)
        self._generation += 1

    def forget_merchant(self, merchant_id: str, kinds: tuple[str, ...] = ("secret", "publishable")) -> int:
        """Drop the merchant's cached keys of these kinds (a revocation); how many."""
        stale = [d for d, p in list(self._cache.items()) if p and p.merchant_id == merchant_id and p.kind in kinds]
        for digest in stale:
            self._cache.pop(digest, None)
        self._generation += 1
        return len(stale)

    def clear(self) -> None:
        """Drop every cached key (revocations may have been missed)."""
        self._cache.clear()
        self._generation += 1


def _unauthenticated(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers={"WWW-Authenticate": "Bearer"})


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>``; ``None`` without the header; 401 for
    any other shape (a second space, a tab, another scheme, non-ASCII...)."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    match = _BEARER.fullmatch(header)
    if match is None:
        raise _unauthenticated("invalid_authorization", "The Authorization header must be 'Bearer <key>'.")
    return match.group(1)


async def authenticate(
    request: Request, resolver: PrincipalResolver, *, allow: tuple[KeyKind, ...] = ("secret",)
) -> Principal:
    """The caller's principal, or 401 (no/malformed/invalid key), 403 (key of the wrong
    kind), 429 (over the address's failure budget, or the key's budget)."""
    token = bearer_token(request)
    if token is None:
        raise _unauthenticated("unauthenticated", "Send an API key as 'Authorization: Bearer <key>'.")
    if not _KEY_SHAPE.fullmatch(token):
        raise _unauthenticated("invalid_api_key", "The API key is not valid.")
    limits: AuthLimits | None = request.scope.get(LIMITS)
    if limits is not None:
        limits.before_lookup(request.scope, token)
    principal = await resolver.resolve(token)
    if principal is None:
        raise _unauthenticated("invalid_api_key", "The API key is not valid.")
    if limits is not None:
        limits.authenticated(token, principal)
    if principal.kind not in allow:
        raise ApiError(
            403, "key_not_allowed", f"A {principal.kind} key may not do this; use a {' or '.join(allow)} key."
        )
    return principal
