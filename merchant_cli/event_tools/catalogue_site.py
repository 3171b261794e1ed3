"""``merchant events docs --serve``: the catalogue as a page.

``/`` is the AsyncAPI viewer (its script comes from a CDN); ``/events`` is a plain page
that needs nothing external: every type, version and schema, linked.
"""

from __future__ import annotations

import html

from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.site import get_asyncapi_html
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from shared.events.catalogue import asyncapi_document, catalogue_broker
from shared.events.schemas import HISTORY, all_json_schemas, schema_file_name


def index_page() -> str:
    rows = []
    for event_type, history in HISTORY.items():
        for version, model in sorted(history.items()):
            name = schema_file_name(event_type, version)
            doc = html.escape((model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else "")
            rows.append(
                f"<tr><td>{event_type}</td><td>v{version}</td><td>{doc}</td>"
                f"<td><a href='/events/{name}'>{name}</a></td></tr>"
            )
    return (
        "<!doctype html><meta charset=utf-8><title>Merchant domain events</title>"
        "<h1>Merchant domain events</h1><p><a href='/'>AsyncAPI viewer</a> · "
        "<a href='/asyncapi.json'>asyncapi.json</a></p>"
        "<table border=1 cellpadding=4><tr><th>type</th><th>version</th><th>about</th>"
        f"<th>JSON Schema</th></tr>{''.join(rows)}</table>"
    )


def create_app() -> Starlette:
    document, schemas = asyncapi_document(), all_json_schemas()
    viewer = get_asyncapi_html(AsyncAPI(catalogue_broker(), title="Merchant domain events").to_specification())

    async def asyncapi_json(request: Request) -> JSONResponse:
        return JSONResponse(document)

    async def schema(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        if name not in schemas:
            return JSONResponse({"error": {"code": "not_found", "message": f"No schema {name!r}."}}, 404)
        return JSONResponse(schemas[name])

    return Starlette(
        routes=[
            Route("/", lambda request: HTMLResponse(viewer)),
            Route("/asyncapi.json", asyncapi_json),
            Route("/events", lambda request: HTMLResponse(index_page())),
            Route("/events/{name}", schema),
        ]
    )
