"""Loading one page of a read model: the MongoDB query behind every list route.

Read-ahead: a client that follows a cursor is walking the list, so the query for its page
fetches the next ``ahead - 1`` pages too and hands them to the cache under the keys the
client's next requests will have (the cursor of each is the ``next_cursor`` of the one
before). Each is exactly the page a query at that moment would return, cached and
invalidated like any other; on a server that must scan and sort for every query (FerretDB
on SQLite), a walk then costs one scan per ``ahead`` pages instead of one per page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from pymongo.asynchronous.collection import AsyncCollection

from query_api.application.pages import PageBounds, PageItems
from query_api.application.pagination import MAX_OFFSET, CursorCodec, PageRequest, Sort, fingerprint
from query_api.application.ports import Loaded
from query_api.application.read_models import View

MAX_READ_AHEAD_ITEMS = 1000


@dataclass(frozen=True)
class ListQuery:
    collection: AsyncCollection[dict[str, Any]]
    filters: dict[str, Any]  # the MongoDB filter, already scoped (visible / merchant)
    view: View
    sort: Sort
    page: PageRequest
    fields: tuple[str, ...] | None


async def load_page(
    query: ListQuery, codec: CursorCodec, ahead: int = 1, key_for_cursor: Callable[[str], str] | None = None
) -> bytes | Loaded:
    """The page's body; for a keyset page also what it covers (``PageBounds``) and, when it
    continues a walk, the pages after it (``ahead`` in all, keyed by ``key_for_cursor``)."""
    sort, page = query.sort, query.page
    projection = query.view.projection(query.fields, extra=(sort.field,))
    if page.page is not None:
        return await _offset_page(query, projection, page.page)

    fp = fingerprint(query.filters)
    mongo_filter = query.filters
    lower = None
    if page.cursor:
        lower = codec.decode(page.cursor, page.sort_name, fp)
        mongo_filter = {"$and": [query.filters, sort.after(*lower)]}
    if not page.cursor or key_for_cursor is None:
        ahead = 1  # first pages are what storefronts show; only walks read ahead
    ahead = max(1, min(ahead, MAX_READ_AHEAD_ITEMS // page.limit))
    docs = (
        await query.collection.find(mongo_filter, projection).sort(sort.mongo).limit(page.limit * ahead + 1).to_list()
    )

    pages = []  # (body, bounds, next_cursor), the requested page first
    start = 0
    while True:
        chunk = docs[start : start + page.limit]
        has_next = len(docs) > start + page.limit  # the one extra item says so, even on the last
        upper = next_cursor = None
        if has_next:
            last = chunk[-1]
            upper = (last.get(sort.field), last["_id"])
            next_cursor = codec.encode(page.sort_name, fp, *upper)
        body = orjson.dumps(
            {
                "data": [query.view.render(d, query.fields) for d in chunk],
                "has_next": has_next,
                "next_cursor": next_cursor,
            }
        )
        pages.append(
            (
                body,
                PageBounds(frozenset(d["_id"] for d in chunk), query.filters, sort.field, sort.direction, lower, upper),
                next_cursor,
            )
        )
        if not has_next or len(pages) == ahead:
            break
        start, lower = start + page.limit, upper
    (body, bounds, cursor), rest = pages[0], pages[1:]
    first = docs[: page.limit]
    items = PageItems(
        tuple(d["_id"] for d in first),
        tuple(d.get(sort.field) for d in first),
        partial(query.view.render, requested=query.fields),  # (the view and fields only: kept with the page)
    )
    following = []
    for next_body, next_bounds, next_cursor in rest:  # only when reading ahead: key_for_cursor given
        if cursor is None or key_for_cursor is None:  # (a page followed by another has a cursor)
            break
        following.append((key_for_cursor(cursor), next_body, next_bounds))
        cursor = next_cursor
    return Loaded(body, bounds, tuple(following), items)


async def _offset_page(query: ListQuery, projection: dict[str, Any], number: int) -> bytes:
    """What it costs, bounded: a count of at most ``MAX_OFFSET + limit + 1`` documents (every
    item an offset page can show, and one to say there are more: ``total`` is then that
    bound and ``total_exact`` false), and a page read through the sort's index that skips
    ``(number - 1) * limit`` documents, at most ``MAX_OFFSET``."""
    limit = query.page.limit
    bound = MAX_OFFSET + limit
    counted = await query.collection.count_documents(query.filters, limit=bound + 1)
    docs = (
        await query.collection.find(query.filters, projection)
        .sort(query.sort.mongo)
        .skip((number - 1) * limit)
        .limit(limit)
        .to_list()
    )
    return orjson.dumps(
        {
            "data": [query.view.render(d, query.fields) for d in docs],
            "page": number,
            "limit": limit,
            "total": min(counted, bound),
            "total_exact": counted <= bound,
            "has_next": number * limit < counted,
        }
    )
