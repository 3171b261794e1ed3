from __future__ import annotations

from command_api.entrypoints.http.routes import COMMAND_ROUTES, starlette_routes
from command_api.entrypoints.openapi import openapi_document


def test_every_route_is_documented_with_its_body_and_errors():
    doc = openapi_document()
    assert doc["openapi"].startswith("3.1")
    served = {(r.path, m.lower()) for r in starlette_routes() for m in r.methods if m != "HEAD"}
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert served == documented and len(served) == 16  # 15 product/order commands + reports
    schemas = doc["components"]["schemas"]
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert {"202", "400", "401", "403", "409", "413", "422"} <= set(op["responses"]), path
            assert ("404" in op["responses"]) == ("{id}" in path or path == "/v1/orders")
            body = op.get("requestBody")
            if body:
                ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
                assert schemas[ref]["additionalProperties"] is False  # unknown fields are refused


def test_only_order_placement_accepts_publishable_keys():
    storefront = [r.path for r in COMMAND_ROUTES if "publishable" in r.allow]
    assert storefront == ["/v1/orders"]
