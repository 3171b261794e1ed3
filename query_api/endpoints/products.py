"""Storefront catalogue reads. Public: the catalogue is what a shop shows anyone."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.http.errors import ApiError
from query_api.read_models import CATALOG_PRODUCTS, public_product


async def get_product(request: Request) -> Response:
    product_id = request.path_params["product_id"]
    db = request.state.db
    doc = await db[CATALOG_PRODUCTS].find_one({"_id": product_id, "visible": True})
    if doc is None:
        raise ApiError(404, "not_found", f"No product '{product_id}'.")
    return Response(orjson.dumps(public_product(doc)), media_type="application/json")


routes = [
    Route("/v1/products/{product_id}", get_product, methods=["GET"]),
]
