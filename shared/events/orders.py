"""Event bodies of the Order aggregate (topic ``orders.events``).

Lines carry the product's name, SKU and unit price *at order time*, taken from the write
model, so later price or name changes never rewrite an order.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events.products import Money

AGGREGATE_TYPE = "order"

OrderStatus = Literal["placed", "confirmed", "paid", "shipped", "delivered", "cancelled", "expired", "refunded"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Customer(Body):
    email: str
    phone: str | None = None
    name: str | None = None


class Address(Body):
    name: str
    line1: str
    line2: str | None = None
    city: str
    postal_code: str
    region: str | None = None
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO-3166 alpha-2.")


class OrderLine(Body):
    product_id: str
    sku: str
    name: str
    unit_price: Money
    quantity: int = Field(gt=0)
    line_total: int = Field(gt=0, description="unit_price.amount * quantity, minor units.")


class OrderPlaced(Body):
    customer: Customer
    shipping_address: Address
    lines: list[OrderLine] = Field(min_length=1)
    currency: str
    item_count: int
    total: int = Field(gt=0, description="Sum of line totals, minor units.")


class OrderConfirmed(Body):
    pass


class OrderPaid(Body):
    payment_reference: str
    amount: int


class OrderPaymentFailed(Body):
    reason: str
    payment_reference: str | None = None


class OrderShipped(Body):
    carrier: str
    tracking_number: str


class OrderDelivered(Body):
    pass


class OrderCancelled(Body):
    reason: str = ""


class OrderExpired(Body):
    """Placed but not paid within the merchant backend's expiry (``ORDER_EXPIRY_SECONDS``):
    the order ends and its stock goes back, like a cancel."""

    unpaid_for_seconds: int = Field(ge=0, description="How long the order waited for payment.")


class OrderRefunded(Body):
    amount: int
    reason: str = ""


EVENTS: tuple[type[Body], ...] = (
    OrderPlaced,
    OrderConfirmed,
    OrderPaid,
    OrderPaymentFailed,
    OrderShipped,
    OrderDelivered,
    OrderCancelled,
    OrderRefunded,
    OrderExpired,
)
