"""SKU claims in memory, with the MongoDB registry's rules: one product per merchant and
SKU, a retry of the same product's claim accepted, an orphaned claim (its product never
committed) taken over once ``stale_after`` has passed."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.events import utc_now

from command_api.application.ports import EventStorePort
from command_api.domain.product import SkuTaken


class InMemorySkuRegistry:
    def __init__(self, store: EventStorePort, stale_after: float = 60.0) -> None:
        self._store, self._stale_after = store, stale_after
        self.claims: dict[str, tuple[str, datetime]] = {}  # "<merchant>:<sku>" -> (product id, claimed at)

    async def claim(self, merchant_id: str, sku: str, product_id: str) -> None:
        claim_id = f"{merchant_id}:{sku}"
        holder = self.claims.get(claim_id)
        if holder is None or holder[0] == product_id:
            self.claims[claim_id] = (product_id, utc_now())
            return
        if await self._is_orphan(*holder) and self.claims.get(claim_id) == holder:  # unchanged while we looked
            self.claims[claim_id] = (product_id, utc_now())
            return
        raise SkuTaken(f"SKU '{sku}' is already used by another product.", sku=sku)

    async def _is_orphan(self, product_id: str, claimed_at: datetime) -> bool:
        if claimed_at > utc_now() - timedelta(seconds=self._stale_after):
            return False
        return not await self._store.load(product_id)
