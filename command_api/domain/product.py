"""The Product aggregate: a merchant's catalogue entry and its stock."""

from __future__ import annotations

from shared.events import products as ev

from command_api.domain.aggregate import Aggregate, InvalidState


class Product(Aggregate):
    aggregate_type = ev.AGGREGATE_TYPE

    def __init__(self, aggregate_id: str, merchant_id: str) -> None:
        super().__init__(aggregate_id, merchant_id)
        self.sku = ""
        self.status: ev.ProductStatus = "draft"
        self.stock = 0

    # -- decisions -------------------------------------------------------------------
    def create(self, data: ev.ProductCreated) -> None:
        if self.exists:
            raise InvalidState("The product already exists.", current_state=self.status)
        self.record(data)

    # -- state changes ---------------------------------------------------------------
    def on_ProductCreated(self, e: ev.ProductCreated) -> None:
        self.sku, self.status, self.stock = e.sku, e.status, e.stock
