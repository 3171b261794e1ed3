"""Event bodies of the Product aggregate (topic ``products.events``).

Stock is part of the product: reservations for orders are product events too, so the
stock level is decided by one aggregate with optimistic concurrency and can never go
negative (see docs/reservations.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AGGREGATE_TYPE = "product"

ProductStatus = Literal["draft", "published", "archived"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Money(Body):
    amount: int = Field(gt=0, description="Price in minor units (cents).")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO-4217 code.")


class ProductCreated(Body):
    """A merchant added a product to its catalogue (schema version 2: with ``tags``)."""

    sku: str
    name: str
    description: str = ""
    category: str
    price: Money
    stock: int = Field(ge=0)
    attributes: dict[str, str] = Field(default_factory=dict)
    status: ProductStatus = "published"
    tags: list[str] = Field(default_factory=list, description="Free-form labels (since v2).")


class ProductDetailsUpdated(Body):
    """Some descriptive fields changed; only the changed ones are present."""

    name: str | None = None
    description: str | None = None
    category: str | None = None
    attributes: dict[str, str] | None = None


class ProductPriceChanged(Body):
    price: Money
    previous_price: Money


class ProductStockAdjusted(Body):
    """A merchant corrected the stock (restock, count, damage...)."""

    delta: int
    reason: str
    stock: int = Field(ge=0, description="The stock level after the adjustment.")


class ProductPublished(Body):
    pass


class ProductUnpublished(Body):
    pass


class ProductArchived(Body):
    pass


class StockReserved(Body):
    """Units set aside for an order line; ``stock`` is what remains available."""

    order_id: str
    quantity: int = Field(gt=0)
    stock: int = Field(ge=0)


class StockReleased(Body):
    """A reservation given back (order cancelled, or never placed and expired)."""

    order_id: str
    quantity: int = Field(gt=0)
    stock: int = Field(ge=0)
    reason: Literal["order_cancelled", "order_rejected", "reservation_expired", "order_expired"]


EVENTS: tuple[type[Body], ...] = (
    ProductCreated,
    ProductDetailsUpdated,
    ProductPriceChanged,
    ProductStockAdjusted,
    ProductPublished,
    ProductUnpublished,
    ProductArchived,
    StockReserved,
    StockReleased,
)
