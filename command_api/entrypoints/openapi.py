"""The OpenAPI 3.1 document, built from the route table and the commands' pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from command_api.application.commands import NoBody
from command_api.entrypoints.http.routes import COMMAND_ROUTES, CommandRoute

REF = "#/components/schemas/{model}"

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable, for programs (e.g. insufficient_stock)."},
                "message": {"type": "string", "description": "For people."},
                "fields": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "problem", "message"],
                        "properties": {
                            "field": {"type": "string"},
                            "problem": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
                "current_state": {"type": ["string", "null"], "description": "On 409 invalid_state."},
                "current_version": {"type": "integer", "description": "On 412 version_mismatch."},
            },
            "additionalProperties": True,
        }
    },
}
ACCEPTED = {
    "type": "object",
    "required": ["id", "version", "correlation_id", "location"],
    "properties": {
        "id": {"type": "string"},
        "version": {"type": "integer", "minimum": 1},
        "correlation_id": {"type": "string"},
        "location": {"type": "string", "description": "The resource on the query API."},
    },
}
_ERRORS = {
    "400": "Malformed JSON, bad If-Match or Idempotency-Key header",
    "401": "No, malformed or invalid API key",
    "403": "A publishable key where a secret key is needed",
    "409": "Refused by the domain (invalid state, insufficient stock, SKU taken...) or request in progress",
    "413": "Body larger than 64 KiB",
    "415": "Body not JSON",
    "422": "Validation failed (fields listed) or Idempotency-Key reused with another body",
    "429": "Rate limited (the key's budget, or failed authentications from this address); see Retry-After",
    "503": "Timed out, or overloaded (load shedding, Retry-After); retry with the same Idempotency-Key",
}


def _header(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "description": description, "schema": schema}


def _operation(route: CommandRoute) -> dict[str, Any]:
    params = [
        _header(
            "Idempotency-Key",
            "A retry with the same key returns the original response.",
            {"type": "string", "minLength": 1, "maxLength": 255},
        ),
        _header(
            "X-Correlation-ID",
            "Carried by every event of the command and echoed. A value that is "
            "not 1-128 of [A-Za-z0-9._:-] is replaced by a new UUID (never rejected).",
            {"type": "string"},
        ),
    ]
    errors = dict(_ERRORS)
    if not route.creates:
        params.insert(0, {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}})
        params.append(
            _header(
                "If-Match",
                "The version the client last saw; 412 if it moved on.",
                {"type": "string", "pattern": '^(W/)?"?[0-9]{1,12}"?$'},
            )
        )
        errors["404"] = "No such resource for this merchant"
        errors["412"] = "If-Match version is not the current version"
    if route.handler.__name__ == "place_order":
        errors["404"] = "Unknown resource"
    op: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.resource],
        "parameters": params,
        "security": [{"secretKey": []}] if route.allow == ("secret",) else [{"secretKey": []}, {"publishableKey": []}],
        "responses": {
            "202": {
                "description": "Accepted: appended durably, published to Kafka asynchronously.",
                "headers": {"Location": {"schema": {"type": "string"}}, "ETag": {"schema": {"type": "string"}}},
                "content": {"application/json": {"schema": {"$ref": REF.format(model="Accepted")}}},
            },
            **{
                code: {
                    "description": text,
                    "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
                }
                for code, text in sorted(errors.items())
            },
        },
    }
    if route.creates:  # lets clients (and stateful fuzzers) follow the new id to its commands
        op["responses"]["202"]["links"] = {
            other.operation_id: {"operationId": other.operation_id, "parameters": {"id": "$response.body#/id"}}
            for other in COMMAND_ROUTES
            if other.resource == route.resource and not other.creates
        }
    if route.command is not NoBody:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=route.command.__name__)}}},
        }
    return op


def openapi_document(server_url: str | None = None) -> dict[str, Any]:
    models = {r.command for r in COMMAND_ROUTES if r.command is not NoBody}
    _, schemas = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)], ref_template=REF
    )
    paths: dict[str, dict[str, Any]] = {}
    for route in COMMAND_ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Merchant command API",
            "version": "1",
            "description": "Commands on products and orders. See docs/api.md.",
        },
        "paths": paths,
        "components": {
            "schemas": {**schemas.get("$defs", {}), "Error": ERROR, "Accepted": ACCEPTED},
            "securitySchemes": {
                "secretKey": {"type": "http", "scheme": "bearer", "description": "sk_... (dashboards)"},
                "publishableKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "pk_... (storefronts: place orders only)",
                },
            },
        },
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc
