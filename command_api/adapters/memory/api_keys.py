"""Merchants' API keys in memory: ``ApiKeysPort`` and, for ``authenticate``, a resolver
(``shared.http.auth.PrincipalResolver``) over the same hashes — without the TTL cache,
so a revocation applies at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.http.auth import KeyKind, Principal, hash_key, new_key


@dataclass
class _Key:
    merchant_id: str
    kind: KeyKind
    revoked: bool = False


class InMemoryApiKeys:
    def __init__(self) -> None:
        self._keys: dict[str, _Key] = {}  # by hash

    async def issue(self, merchant_id: str, kinds: Sequence[KeyKind]) -> dict[str, str]:
        keys: dict[str, str] = {}
        for kind in kinds:
            keys[kind] = key = new_key(kind)
            self._keys[hash_key(key)] = _Key(merchant_id, kind)
        return keys

    async def revoke_all_but(self, merchant_id: str, kinds: Sequence[str], keep: Sequence[str]) -> None:
        kept = {hash_key(k) for k in keep}
        for digest, key in self._keys.items():
            if key.merchant_id == merchant_id and key.kind in kinds and digest not in kept:
                key.revoked = True

    async def has_keys(self, merchant_id: str) -> bool:
        return any(k.merchant_id == merchant_id and not k.revoked for k in self._keys.values())

    async def resolve(self, key: str) -> Principal | None:
        found = self._keys.get(hash_key(key))
        return None if found is None or found.revoked else Principal(found.merchant_id, found.kind)
