"""The command API on its in-memory adapters (``bootstrap_in_memory``): a real HTTP request
path (Starlette through ``httpx.ASGITransport``) with no server behind it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from shared.settings import CommandApiSettings

from command_api.bootstrap import CommandSide, bootstrap_in_memory
from command_api.entrypoints.app import create_app

ADDRESS = {"name": "Ada", "line1": "1 Road", "city": "Town", "postal_code": "1", "country": "FR"}


@dataclass
class InMemoryApi:
    client: httpx.AsyncClient
    side: CommandSide
    secret_key: str
    publishable_key: str
    merchant_id: str

    def sk(self, **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret_key}", **headers}

    def pk(self, **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.publishable_key}", **headers}

    async def create_product(self, stock: int = 10, **overrides: Any) -> str:
        response = await self.client.post(
            "/v1/products", json=product_body(stock=stock, **overrides), headers=self.sk()
        )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])


def product_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "sku": f"SKU-{uuid.uuid4().hex[:8]}",
        "name": "Mug",
        "category": "kitchen",
        "price": {"amount": 1200, "currency": "EUR"},
        "stock": 10,
    }
    return {**body, **overrides}


def order_body(*items: tuple[str, int]) -> dict[str, Any]:
    return {
        "items": [{"product_id": p, "quantity": q} for p, q in items],
        "customer": {"email": "ada@example.com"},
        "shipping_address": ADDRESS,
    }


@contextlib.asynccontextmanager
async def in_memory_api(settings: CommandApiSettings | None = None, **app_options: Any) -> AsyncIterator[InMemoryApi]:
    """The app with its lifespan entered on a fresh in-memory side, and a merchant."""
    built: list[CommandSide] = []

    def side(s: CommandApiSettings) -> CommandSide:
        built.append(bootstrap_in_memory(s))
        return built[-1]

    app = create_app(settings or CommandApiSettings(), side=side, **app_options)
    async with app.router.lifespan_context(app) as state:

        async def with_state(scope: Any, receive: Any, send: Any) -> None:
            scope["state"] = dict(state or {})
            await app(scope, receive, send)

        merchant = await built[0].merchants.create("Unit Shop")
        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://command-api", timeout=10) as client:
            yield InMemoryApi(client, built[0], merchant.secret_key, merchant.publishable_key, merchant.merchant_id)
