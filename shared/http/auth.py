"""API keys: ``Authorization: Bearer <key>``.

Keys are random tokens stored only as SHA-256 hashes (they carry 256 bits of entropy, so
a fast hash is enough; no password stretching is needed). Secret keys (``sk_``) belong to
merchant dashboards; publishable keys (``pk_``) to storefronts. Lookups are cached in
process for a short TTL so a request does not pay a database round trip; a revoked key
therefore stays usable for at most ``ttl`` seconds (documented in docs/api.md).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal, Protocol

from cachetools import TTLCache
from starlette.requests import Request

from shared.http.errors import ApiError
from shared.mongo import Database

KeyKind = Literal["secret", "publishable"]
API_KEYS = "api_keys"
_PREFIX = {"secret": "sk_", "publishable": "pk_"}


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

    async def resolve(self, key: str) -> Principal | None:
        digest = hash_key(key)
        if digest in self._cache:
            return self._cache[digest]
        doc = await self._keys.find_one({"_id": digest, "revoked_at": None})
        principal = Principal(doc["merchant_id"], doc["kind"]) if doc else None
        self._cache[digest] = principal
        return principal

    def forget(self, key: str) -> None:
        self._cache.pop(hash_key(key), None)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(
    request: Request, resolver: PrincipalResolver, *, allow: tuple[KeyKind, ...] = ("secret",)
) -> Principal:
    """The caller's principal, or 401 (no/invalid key) / 403 (key of the wrong kind)."""
    token = bearer_token(request)
    if token is None:
        raise ApiError(
            401,
            "unauthenticated",
            "Send an API key as 'Authorization: Bearer <key>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = await resolver.resolve(token)
    if principal is None:
        raise ApiError(401, "invalid_api_key", "The API key is not valid.", headers={"WWW-Authenticate": "Bearer"})
    if principal.kind not in allow:
        raise ApiError(
            403, "key_not_allowed", f"A {principal.kind} key may not do this; use a {' or '.join(allow)} key."
        )
    return principal
