"""The OpenAPI 3.1 document, built from the same parameter declarations that validate
requests (one source of truth)."""

from __future__ import annotations

from query_api.application.params import Param
from query_api.application.read_models import MERCHANT_PRODUCT_VIEW, ORDER_VIEW, PRODUCT_VIEW
from query_api.entrypoints.endpoints.common import RouteDoc

_STR, _INT, _OBJ = {"type": "string"}, {"type": "integer"}, {"type": "object"}
_NSTR = {"type": ["string", "null"]}
_MONEY = {"type": "object", "properties": {"amount": _INT, "currency": _STR}}
_FIELD_TYPES = {
    "id": _STR,
    "merchant_id": _STR,
    "merchant_name": _NSTR,
    "sku": _STR,
    "name": _STR,
    "description": _NSTR,
    "category": _STR,
    "price": _MONEY,
    "stock_status": _STR,
    "attributes": _OBJ,
    "tags": {"type": "array", "items": _STR},
    "created_at": _STR,
    "updated_at": _STR,
    "version": _INT,
    "status": _STR,
    "visible": {"type": "boolean"},
    "stock": _INT,
    "units_sold": _INT,
    "archived_at": _NSTR,
    "customer": _OBJ,
    "shipping_address": {},
    "lines": {"type": "array", "items": _OBJ},
    "currency": _STR,
    "item_count": _INT,
    "total": {},
    "status_history": {"type": "array", "items": _OBJ},
    "payment_reference": _NSTR,
    "carrier": _NSTR,
    "tracking_number": _NSTR,
    "placed_at": _STR,
}


def _object(fields: tuple[str, ...]) -> dict:
    # No field is required: `fields=` selects any subset.
    return {"type": "object", "properties": {f: _FIELD_TYPES.get(f, {}) for f in fields}}


def _cursor_page(item: str) -> dict:
    ref = {"$ref": f"#/components/schemas/{item}"}
    return {
        "type": "object",
        "required": ["data", "has_next"],
        "properties": {
            "data": {"type": "array", "items": ref},
            "has_next": {"type": "boolean"},
            "next_cursor": _NSTR,
            "page": _INT,
            "limit": _INT,
            "total": _INT,
        },
    }


SCHEMAS = {
    "Product": _object(PRODUCT_VIEW.fields),
    "MerchantProduct": _object(MERCHANT_PRODUCT_VIEW.fields),
    "Order": _object(ORDER_VIEW.fields),
    "ProductPage": _cursor_page("Product"),
    "MerchantProductPage": _cursor_page("MerchantProduct"),
    "OrderPage": _cursor_page("Order"),
    "CategoryList": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["category", "product_count"],
                    "properties": {"category": _STR, "product_count": _INT},
                },
            }
        },
    },
    "Stats": {
        "type": "object",
        "required": ["merchant_id", "from", "to", "totals", "days"],
        "properties": {
            "merchant_id": _STR,
            "from": _STR,
            "to": _STR,
            "totals": _OBJ,
            "days": {"type": "array", "items": _OBJ},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": _STR, "message": _STR, "fields": {"type": "array", "items": _OBJ}},
            }
        },
    },
}


def _schema(param: Param) -> dict:
    if param.kind == "integer":
        schema: dict = {"type": "integer"}
        if param.minimum is not None:
            schema["minimum"] = param.minimum
        if param.maximum is not None:
            schema["maximum"] = param.maximum
        return schema
    if param.kind == "boolean":
        return {"type": "boolean"}
    if param.kind == "enum":
        return {"type": "string", "enum": list(param.choices)}
    if param.kind == "datetime":
        return {"type": "string", "format": "date-time"}
    if param.kind == "date":
        return {"type": "string", "format": "date"}
    if param.kind in ("fields", "enums"):
        one = "(" + "|".join(param.choices) + ")"
        return {"type": "string", "pattern": f"^{one}(,{one})*$"}
    schema = {"type": "string", "minLength": 1, "maxLength": param.max_length}
    if param.pattern:
        schema["pattern"] = f"^{param.pattern}$"
    return schema


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _operation(doc: RouteDoc) -> dict:
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 64}}
        for p in doc.path_params
    ]
    parameters += [
        {"name": p.name, "in": "query", "required": False, "description": p.description, "schema": _schema(p)}
        for p in doc.params.params
    ]
    if doc.min_version:
        parameters.append(
            {
                "name": "X-Min-Version",
                "in": "header",
                "required": False,
                "description": "Same as `min_version`.",
                "schema": {"type": "integer", "minimum": 1},
            }
        )
    responses = {
        "200": {
            "description": "OK (br, zstd or gzip as `Accept-Encoding` asks). Carries an ETag.",
            "headers": {"ETag": {"schema": _STR}, "Cache-Control": {"schema": _STR}},
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{doc.response}"}}},
        },
        "304": {"description": "Not modified (If-None-Match matched the ETag)."},
        "400": _error("Invalid parameter or cursor."),
        "414": _error("URL too long."),
        "429": _error("Rate limited; see Retry-After."),
        "503": _error("Overloaded (load shedding); see Retry-After."),
    }
    if doc.path_params:
        responses["404"] = _error("Not found (or not yours).")
    if doc.min_version:
        responses["409"] = _error("The projection has not reached `min_version` yet; see Retry-After.")
    if doc.auth == "secret":
        responses["401"] = _error("No or invalid API key.")
        responses["403"] = _error("Not a secret key.")
    operation = {
        "operationId": doc.operation_id,
        "summary": doc.summary,
        "parameters": parameters,
        "responses": responses,
    }
    operation["security"] = [{"secretKey": []}] if doc.auth == "secret" else []
    return operation


def build(route_docs: list[RouteDoc]) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Merchant query API",
            "version": "1.0.0",
            "description": "Cached, paginated reads of the catalogue (public) and of a "
            "merchant's own data (secret key). See docs/api.md.",
        },
        "paths": {d.path: {"get": _operation(d)} for d in route_docs},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "secretKey": {"type": "http", "scheme": "bearer", "description": "A secret key, sk_..."}
            },
        },
    }
