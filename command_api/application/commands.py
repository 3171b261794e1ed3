"""Commands: what a client asks the write side to do (imperative, validated by pydantic).

Unknown fields are rejected, so a typo in a field name is a 422 naming it rather than a
silently ignored value. Clients never send prices or names of order lines: those come
from the write model.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.events import reports as report_events
from shared.events.orders import Address, Customer
from shared.events.products import Money, ProductStatus

Text = Field(min_length=1, max_length=200)


class Price(Money):
    """A price as clients send it: bounded, so totals stay within 64-bit integers."""

    amount: int = Field(gt=0, le=10**12, description="Price in minor units (cents).")


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NoBody(Command):
    """A command that needs no fields (an empty JSON object, or no body at all)."""


# -- products ------------------------------------------------------------------------
# Attribute names become field names in stored documents: MongoDB refuses NUL bytes in
# them, and a leading '$' or a '.' would be read as an operator or a path.
AttributeName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00$.][^\x00.]*$")]
Attributes = Annotated[
    dict[AttributeName, str], Field(max_length=50, json_schema_extra={"additionalProperties": False})
]


class CreateProduct(Command):
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    category: str = Field(min_length=1, max_length=100)
    price: Price
    stock: int = Field(0, ge=0, le=1_000_000_000)
    attributes: Attributes = Field(default_factory=dict)
    status: ProductStatus = Field("published", description="'draft' keeps it off the storefront.")
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=50)]] = Field(
        default_factory=list, max_length=20
    )


class UpdateProductDetails(Command):
    """Change descriptive fields; omitted fields stay as they are."""

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    category: str | None = Field(None, min_length=1, max_length=100)
    attributes: Attributes | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateProductDetails:
        if not self.model_fields_set:
            raise ValueError("send at least one of name, description, category, attributes")
        return self


class ChangePrice(Command):
    price: Price


class AdjustStock(Command):
    delta: int = Field(
        ge=-1_000_000_000,
        le=1_000_000_000,
        json_schema_extra={"not": {"const": 0}},
        description="Units to add (positive) or remove (negative); never 0.",
    )
    reason: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _not_zero(self) -> AdjustStock:
        if self.delta == 0:
            raise ValueError("delta must not be 0")
        return self


# -- orders --------------------------------------------------------------------------
class OrderItem(Command):
    product_id: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=1000)


class CustomerIn(Customer):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(None, min_length=3, max_length=32, pattern=r"^\+?[0-9 ()./-]+$")
    name: str | None = Field(None, min_length=1, max_length=200)


class AddressIn(Address):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Text
    line1: str = Text
    line2: str | None = Field(None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    region: str | None = Field(None, max_length=100)


class PlaceOrder(Command):
    items: list[OrderItem] = Field(min_length=1, max_length=100)
    customer: CustomerIn
    shipping_address: AddressIn

    @model_validator(mode="after")
    def _one_line_per_product(self) -> PlaceOrder:
        ids = [i.product_id for i in self.items]
        if len(ids) != len(set(ids)):
            raise ValueError("each product may appear once in items; use quantity")
        return self


class PayOrder(Command):
    payment_reference: str = Field(min_length=1, max_length=200)


class RecordPaymentFailure(Command):
    reason: str = Field(min_length=1, max_length=500)
    payment_reference: str | None = Field(None, min_length=1, max_length=200)


class ShipOrder(Command):
    carrier: str = Field(min_length=1, max_length=100)
    tracking_number: str = Field(min_length=1, max_length=100)


class CancelOrder(Command):
    reason: str = Field("", max_length=500)


class RefundOrder(Command):
    reason: str = Field("", max_length=500)


# -- merchants -----------------------------------------------------------------------
class RotateKeys(Command):
    kinds: list[Literal["secret", "publishable"]] = Field(min_length=1, max_length=2)


# -- reports -------------------------------------------------------------------------
REPORT_MAX_DAYS = 366


class RequestReport(Command):
    kind: Literal["sales"] = "sales"
    date_from: date
    date_to: date
    notify_email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    formats: list[report_events.ReportFormat] = Field(
        default_factory=lambda: list[report_events.ReportFormat](["csv", "pdf"]), min_length=1, max_length=2
    )

    @model_validator(mode="after")
    def _range_is_sensible(self) -> RequestReport:
        if self.date_to < self.date_from:
            raise ValueError("date_to must not be before date_from")
        if (self.date_to - self.date_from).days >= REPORT_MAX_DAYS:
            raise ValueError(f"a report covers at most {REPORT_MAX_DAYS} days")
        self.formats = sorted(set(self.formats))
        return self
