"""Event bodies of the Product aggregate (topic ``products.events``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AGGREGATE_TYPE = "product"

ProductStatus = Literal["draft", "published", "archived"]


class Money(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: int = Field(gt=0, description="Price in minor units (cents).")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO-4217 code.")


class ProductCreated(BaseModel):
    """A merchant added a product to its catalogue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str
    name: str
    description: str = ""
    category: str
    price: Money
    stock: int = Field(ge=0)
    attributes: dict[str, str] = Field(default_factory=dict)
    status: ProductStatus = "published"
