"""Commands: what a client asks the write side to do (imperative, validated by pydantic).

Unknown fields are rejected, so a typo in a field name is a 422 naming it rather than a
silently ignored value.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.events.products import Money, ProductStatus


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CreateProduct(Command):
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    category: str = Field(min_length=1, max_length=100)
    price: Money
    stock: int = Field(0, ge=0, le=1_000_000_000)
    attributes: dict[str, str] = Field(default_factory=dict, max_length=50)
    status: ProductStatus = Field("published", description="'draft' keeps it off the storefront.")
    tags: list[str] = Field(default_factory=list, max_length=20)
