"""Loading one page of a read model: the MongoDB query behind every list route."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from pymongo.asynchronous.collection import AsyncCollection

from query_api.pagination import CursorCodec, PageRequest, Sort, fingerprint
from query_api.read_models import View


@dataclass(frozen=True)
class ListQuery:
    collection: AsyncCollection
    filters: dict  # the MongoDB filter, already scoped (visible / merchant)
    view: View
    sort: Sort
    page: PageRequest
    fields: tuple[str, ...] | None


async def load_page(query: ListQuery, codec: CursorCodec) -> bytes:
    sort, page = query.sort, query.page
    projection = query.view.projection(query.fields, extra=(sort.field,))
    if page.page is not None:
        return await _offset_page(query, projection)

    fp = fingerprint(query.filters)
    mongo_filter = query.filters
    if page.cursor:
        value, last_id = codec.decode(page.cursor, page.sort_name, fp)
        mongo_filter = {"$and": [query.filters, sort.after(value, last_id)]}
    docs = await query.collection.find(mongo_filter, projection).sort(sort.mongo) \
        .limit(page.limit + 1).to_list()
    has_next = len(docs) > page.limit
    docs = docs[:page.limit]
    next_cursor = None
    if has_next:
        last = docs[-1]
        next_cursor = codec.encode(page.sort_name, fp, last.get(sort.field), last["_id"])
    return orjson.dumps({"data": [query.view.render(d, query.fields) for d in docs],
                         "has_next": has_next, "next_cursor": next_cursor})


async def _offset_page(query: ListQuery, projection: dict) -> bytes:
    page = query.page
    total = await query.collection.count_documents(query.filters)
    docs = await query.collection.find(query.filters, projection).sort(query.sort.mongo) \
        .skip((page.page - 1) * page.limit).limit(page.limit).to_list()
    return orjson.dumps({"data": [query.view.render(d, query.fields) for d in docs],
                         "page": page.page, "limit": page.limit, "total": total,
                         "has_next": page.page * page.limit < total})
