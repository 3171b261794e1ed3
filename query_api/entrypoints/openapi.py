"""The OpenAPI 3.1 document, built from the same parameter declarations that validate
requests, and the response schemas from the typed documents the routes return
(``query_api.application.documents``): one source of truth each."""

from __future__ import annotations

from typing import Any

from query_api.application.documents import ANSWERS, ITEMS
from query_api.application.params import Param
from query_api.entrypoints.endpoints.common import RouteDoc

_STR, _INT, _OBJ = {"type": "string"}, {"type": "integer"}, {"type": "object"}
_NSTR = {"type": ["string", "null"]}
REF = "#/components/schemas/{model}"


def _answer_schemas() -> dict[str, Any]:
    """The schemas of ``query_api.application.documents``, nested models hoisted beside them."""
    schemas: dict[str, Any] = {}
    for model in ANSWERS:
        schema = model.model_json_schema(by_alias=True, ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for item in ITEMS:
        schemas[item.__name__].pop("required", None)  # `fields=` selects any subset
    return schemas


def _cursor_page(item: str) -> dict[str, Any]:
    ref = {"$ref": REF.format(model=item)}
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
            "total_exact": {"type": "boolean"},
        },
    }


SCHEMAS: dict[str, Any] = {
    **_answer_schemas(),
    **{f"{item.__name__}Page": _cursor_page(item.__name__) for item in ITEMS},
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


def _schema(param: Param) -> dict[str, Any]:
    if param.kind == "integer":
        schema: dict[str, Any] = {"type": "integer"}
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


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _operation(doc: RouteDoc) -> dict[str, Any]:
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
                "description": "Same as `min_version` (if both are sent, they must agree).",
                "schema": {"type": "integer", "minimum": 1, "maximum": 2**53 - 1},
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


def build(route_docs: list[RouteDoc]) -> dict[str, Any]:
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
