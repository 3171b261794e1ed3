"""What every read route shares: the cached path, cache keys, and its documentation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request

from query_api.adapters.cache.epochs import Tag
from query_api.adapters.cache.two_level import Query
from query_api.application.listing import ListQuery, load_page
from query_api.application.pagination import PageRequest, Sort
from query_api.application.params import ParamSet
from query_api.application.read_models import View
from query_api.entrypoints.bootstrap import QuerySide
from query_api.entrypoints.http.cache_hits import WARMING
from query_api.entrypoints.responses import PUBLIC, CachedResponse


@dataclass(frozen=True)
class RouteDoc:
    """A route as the OpenAPI document describes it."""

    path: str
    operation_id: str
    summary: str
    params: ParamSet
    response: str  # a schema name in query_api.entrypoints.openapi
    auth: str = "none"  # none | secret
    path_params: tuple[str, ...] = ()
    min_version: bool = False


def raw_key(request: Request, scope_prefix: str = "") -> str:
    """The L1 key: the request as sent, so a hit needs no parsing at all."""
    return f"{scope_prefix}{request.scope['path']}?{request.scope['query_string'].decode('latin-1')}"


def normalised_key(name: str, values: dict[str, Any]) -> str:
    return name + ":" + orjson.dumps(values, default=str, option=orjson.OPT_SORT_KEYS).decode()


async def serve_cached(
    side: QuerySide, key: str, build: Callable[[], Query], cache_control: bytes = PUBLIC
) -> CachedResponse:
    cache = side.cache
    if WARMING.get():  # the warm-up worker's read: make L2 current (shared.warmup)
        return CachedResponse(await cache.refresh(key, build()), cache_control)
    entry = cache.get(key)
    if entry is None:
        entry, stale_for = await cache.answer(key, build())
        return CachedResponse(entry, cache_control, stale_for)
    return CachedResponse(entry, cache_control)


def list_query(
    side: QuerySide,
    *,
    collection: str,
    filters: dict[str, Any],
    view: View,
    sorts: dict[str, Sort],
    values: dict[str, Any],
    key: str,
    tag: Tag,
    l2_ttl: float,
    stale_ok: bool = False,
) -> Query:
    """A cached page of a list route (the first of ``sorts`` is the default sort);
    ``stale_ok`` for the public catalogue only (docs/api.md, "Serving the previous answer")."""
    settings = side.settings
    page = PageRequest.from_params(values, settings.default_page_size, next(iter(sorts)))
    query = ListQuery(side.db[collection], filters, view, sorts[page.sort_name], page, values.get("fields"))
    return Query(
        normalised_key(key, values),
        tag,
        settings.l1_ttl_seconds,
        l2_ttl,
        lambda: load_page(
            query,
            side.codec,
            settings.cursor_read_ahead_pages,
            lambda cursor: normalised_key(key, {**values, "cursor": cursor}),
        ),
        stale_ok,
    )
