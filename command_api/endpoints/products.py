"""Product commands."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from command_api import handlers
from command_api.commands import CreateProduct
from command_api.endpoints.execute import execute


async def create_product(request: Request) -> Response:
    return await execute(request, CreateProduct, handlers.create_product, resource="products")


routes = [
    Route("/v1/products", create_product, methods=["POST"]),
]
