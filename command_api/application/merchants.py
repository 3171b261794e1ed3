"""Merchants: an event-sourced aggregate (``merchants.events``) plus their API keys.

The aggregate records what happened (created, renamed, keys rotated); the key *hashes*
live behind ``ApiKeysPort`` because every request looks one up by hash. Plain keys are
returned exactly once and never stored or put in an event.

Order of writes, and what a crash between them leaves: the event is appended first,
then the keys are written. A crash in between leaves a merchant without usable keys
(create) or with its old keys still valid (rotate); running the command again fixes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from shared.http.auth import KeyKind

from command_api.application.ports import ApiKeysPort
from command_api.application.repository import CommandContext, Repository
from command_api.domain.merchant import Merchant


@dataclass(frozen=True)
class NewMerchant:
    merchant_id: str
    name: str
    secret_key: str
    publishable_key: str


def _context(merchant_id: str) -> CommandContext:
    return CommandContext(merchant_id, command_id=uuid.uuid4().hex, correlation_id=str(uuid.uuid4()))


class MerchantAccounts:
    def __init__(self, repository: Repository, keys: ApiKeysPort) -> None:
        self._repository, self._keys = repository, keys

    async def create(self, name: str) -> NewMerchant:
        merchant_id = str(uuid.uuid4())
        merchant = Merchant(merchant_id, merchant_id)  # a merchant's events belong to itself
        merchant.create(name)
        await self._repository.create(merchant, _context(merchant_id))
        keys = await self._keys.issue(merchant_id, ["secret", "publishable"])
        return NewMerchant(merchant_id, name, keys["secret"], keys["publishable"])

    async def rotate_keys(self, merchant_id: str, kinds: Sequence[KeyKind]) -> dict[str, str]:
        """New keys of the given kinds; the old ones are revoked (running API processes may
        accept them from their auth cache for up to its TTL)."""
        await self._repository.change(
            Merchant, merchant_id, _context(merchant_id), lambda m: m.rotate_keys(list(kinds))
        )
        keys = await self._keys.issue(merchant_id, kinds)
        await self._keys.revoke_all_but(merchant_id, kinds, list(keys.values()))
        return keys

    async def exists(self, merchant_id: str) -> bool:
        """A merchant with at least one usable key."""
        return await self._keys.has_keys(merchant_id)
