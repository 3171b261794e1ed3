"""What each route returns, typed: the read-model documents as a client sees them.

These models are the one description of the answers: the views' field lists
(``query_api.application.read_models``) and the OpenAPI response schemas
(``query_api.entrypoints.openapi``) are both derived from them, so a field cannot be
served without being documented, nor documented without being served. They describe the
shape, not the write side's rules (those are the commands' and events' models): answers
are rendered from stored documents without validating them on the hot path; the unit
tests render the projectors' real documents and validate them against these models.

``fields=`` selects any subset of an item's fields, so in the OpenAPI document no item
field is required (nested objects keep theirs). Dates are ISO-8601 strings on the wire.
Class docstrings are the schemas' descriptions in the OpenAPI document (Markdown).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

StockStatus = Literal["in_stock", "low_stock", "out_of_stock"]
ProductStatus = Literal["draft", "published", "archived"]
OrderStatus = Literal["placed", "confirmed", "paid", "shipped", "delivered", "cancelled", "expired", "refunded"]


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Money(Document):
    amount: int = Field(description="Minor units (cents).")
    currency: str


class Product(Document):
    """A published product, as the storefront sees it (`GET /v1/products...`)."""

    id: str
    merchant_id: str
    merchant_name: str | None
    sku: str
    name: str
    description: str | None
    category: str
    price: Money
    stock_status: StockStatus
    attributes: dict[str, Any]
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    version: int


class MerchantProduct(Product):
    """A product of yours in any status, with exact stock (`GET /v1/merchant/products`)."""

    status: ProductStatus
    visible: bool
    stock: int
    units_sold: int
    archived_at: datetime | None


class Customer(Document):
    email: str
    phone: str | None = None
    name: str | None = None


class Address(Document):
    name: str | None = None
    line1: str
    line2: str | None = None
    city: str
    postal_code: str
    region: str | None = None
    country: str


class OrderLine(Document):
    product_id: str
    sku: str
    name: str
    unit_price: Money
    quantity: int
    line_total: int = Field(description="unit_price.amount x quantity, minor units.")


class StatusChange(Document):
    status: OrderStatus
    at: datetime


class Order(Document):
    """One of your orders (`GET /v1/merchant/orders...`)."""

    id: str
    merchant_id: str
    customer: Customer
    shipping_address: Address
    lines: list[OrderLine]
    currency: str
    item_count: int
    total: int = Field(description="Minor units.")
    status: OrderStatus
    status_history: list[StatusChange]
    payment_reference: str | None
    carrier: str | None
    tracking_number: str | None
    placed_at: datetime
    updated_at: datetime
    version: int


class CategoryCount(Document):
    category: str
    product_count: int


class CategoryList(Document):
    data: list[CategoryCount]


class TopProduct(Document):
    product_id: str
    units: int


class DayStats(Document):
    day: str = Field(description="YYYY-MM-DD (UTC), the day the orders were placed.")
    revenue: int
    orders_placed: int
    units_sold: int
    payments_succeeded: int
    payments_failed: int
    shipped_count: int
    processing_seconds_total: float
    orders_by_status: dict[str, int]


class StatsTotals(Document):
    revenue: int
    orders_placed: int
    units_sold: int
    payments_succeeded: int
    payments_failed: int
    shipped_count: int
    processing_seconds_total: float
    orders_by_status: dict[str, int]
    average_processing_seconds: float | None
    top_products: list[TopProduct]


class Stats(Document):
    """Your sales per day and in total (`GET /v1/merchant/stats`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    merchant_id: str
    first_day: str = Field(alias="from")
    last_day: str = Field(alias="to")
    totals: StatsTotals
    days: list[DayStats]


ITEMS: tuple[type[Document], ...] = (Product, MerchantProduct, Order)  # what list pages hold
ANSWERS: tuple[type[Document], ...] = (*ITEMS, CategoryList, Stats)


def item_fields(model: type[Document]) -> tuple[str, ...]:
    """The fields a client may ask for with ``fields=``, in the order they are rendered."""
    return tuple(model.model_fields)
