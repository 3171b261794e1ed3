"""The Product aggregate: a merchant's catalogue entry, its price and its stock.

Stock lives here and nowhere else: an order reserves units with ``StockReserved`` on
the product itself, so the product's optimistic concurrency (one writer per version)
is what keeps stock from ever going negative (docs/reservations.md). Reservations are
keyed by order id, which makes reserving and releasing idempotent.

A product never holds more than ``MAX_STOCK`` units, counting those reserved: stock is a
64-bit integer in every store and read model, and repeated adjustments must not be able to
push it (or a sum of a few products' stock) past that. An adjustment beyond is refused
(``stock_limit_exceeded``), before anything is stored.
"""

from __future__ import annotations

from shared.events import products as ev

from command_api.domain.aggregate import Aggregate, DomainError, InvalidState


class InsufficientStock(DomainError):
    code = "insufficient_stock"


MAX_STOCK = 10**12


class StockLimitExceeded(DomainError):
    status = 422
    code = "stock_limit_exceeded"


class SkuTaken(DomainError):
    """Another product of this merchant has the SKU (``SkuRegistryPort`` decides it)."""

    code = "sku_taken"


class CurrencyMismatch(DomainError):
    status = 422
    code = "currency_mismatch"


class Product(Aggregate):
    aggregate_type = ev.AGGREGATE_TYPE

    def __init__(self, aggregate_id: str, merchant_id: str) -> None:
        super().__init__(aggregate_id, merchant_id)
        self.sku = self.name = self.category = ""
        self.price: ev.Money | None = None
        self.status: ev.ProductStatus = "draft"
        self.stock = 0
        self.reservations: dict[str, int] = {}  # order id -> units held for it
        self.released: set[str] = set()  # orders whose units went back: never held again

    # -- decisions -------------------------------------------------------------------
    def create(self, data: ev.ProductCreated) -> None:
        if self.exists:
            raise InvalidState("The product already exists.", current_state=self.status)
        self.record(data)

    def update_details(self, data: ev.ProductDetailsUpdated) -> None:
        self._require_changeable()
        changed = {k: v for k, v in data.model_dump(exclude_none=True).items() if getattr(self, k, None) != v}
        if changed:  # nothing changed: no event, the answer is the current version
            self.record(ev.ProductDetailsUpdated(**changed))

    def change_price(self, price: ev.Money) -> None:
        self._require_changeable()
        assert self.price is not None
        if price.currency != self.price.currency:
            raise CurrencyMismatch(f"The product is priced in {self.price.currency}.", currency=self.price.currency)
        if price != self.price:
            self.record(ev.ProductPriceChanged(price=price, previous_price=self.price))

    def adjust_stock(self, delta: int, reason: str) -> None:
        self._require_changeable()
        if self.stock + delta < 0:
            raise InsufficientStock(
                f"Cannot remove {-delta} unit(s): only {self.stock} available.", available=self.stock
            )
        held = self.stock + sum(self.reservations.values())
        if held + delta > MAX_STOCK:
            raise StockLimitExceeded(
                f"A product holds at most {MAX_STOCK} units, reserved ones included ({held} now).",
                limit=MAX_STOCK,
                held=held,
            )
        self.record(ev.ProductStockAdjusted(delta=delta, reason=reason, stock=self.stock + delta))

    def publish(self) -> None:
        self._require_changeable()
        if self.status != "published":
            self.record(ev.ProductPublished())

    def unpublish(self) -> None:
        self._require_changeable()
        if self.status != "draft":
            self.record(ev.ProductUnpublished())

    def archive(self) -> None:
        self._require_changeable()
        self.record(ev.ProductArchived())

    def reserve(self, order_id: str, quantity: int) -> None:
        """Hold ``quantity`` units for an order (a no-op if this order already holds them).

        An order holding another quantity is refused: two attempts of one order that
        disagree must not both count on one hold."""
        held = self.reservations.get(order_id)
        if held == quantity:
            return
        if held is not None:
            raise InvalidState(
                f"Order {order_id} already holds {held} unit(s) of product {self.id}.", current_state="reserved"
            )
        if order_id in self.released:
            raise InvalidState(f"The reservation of order {order_id} was already released.", current_state="released")
        if self.status != "published":
            raise ProductUnavailable(f"Product {self.id} is not for sale.", product_id=self.id)
        if quantity > self.stock:
            raise InsufficientStock(
                f"Insufficient stock for product {self.id}: {quantity} requested, {self.stock} available.",
                product_id=self.id,
                requested=quantity,
                available=self.stock,
            )
        self.record(ev.StockReserved(order_id=order_id, quantity=quantity, stock=self.stock - quantity))

    def release(self, order_id: str, reason: str) -> None:
        """Give an order's units back (a no-op if it holds none: released already)."""
        quantity = self.reservations.get(order_id, 0)
        if quantity:
            self.record(
                ev.StockReleased(order_id=order_id, quantity=quantity, stock=self.stock + quantity, reason=reason)
            )

    def _require_changeable(self) -> None:
        if self.status == "archived":
            raise InvalidState("The product is archived and accepts no changes.", current_state="archived")

    # -- state changes ---------------------------------------------------------------
    def on_ProductCreated(self, e: ev.ProductCreated) -> None:
        self.sku, self.name, self.category = e.sku, e.name, e.category
        self.price, self.status, self.stock = e.price, e.status, e.stock
        self.description, self.attributes = e.description, dict(e.attributes)

    def on_ProductDetailsUpdated(self, e: ev.ProductDetailsUpdated) -> None:
        for field, value in e.model_dump(exclude_none=True).items():
            setattr(self, field, value)

    def on_ProductPriceChanged(self, e: ev.ProductPriceChanged) -> None:
        self.price = e.price

    def on_ProductStockAdjusted(self, e: ev.ProductStockAdjusted) -> None:
        self.stock = e.stock

    def on_ProductPublished(self, e: ev.ProductPublished) -> None:
        self.status = "published"

    def on_ProductUnpublished(self, e: ev.ProductUnpublished) -> None:
        self.status = "draft"

    def on_ProductArchived(self, e: ev.ProductArchived) -> None:
        self.status = "archived"

    def on_StockReserved(self, e: ev.StockReserved) -> None:
        self.stock = e.stock
        self.reservations[e.order_id] = e.quantity

    def on_StockReleased(self, e: ev.StockReleased) -> None:
        self.stock = e.stock
        self.reservations.pop(e.order_id, None)
        self.released.add(e.order_id)


class ProductUnavailable(DomainError):
    status = 422
    code = "product_unavailable"
