"""The query list and the index list agree, without a server: every query names a declared
index that serves it best, and docs/indexes.md shows both lists as they are.
(That every declared index is used — by a query or by the projectors' own reads — needs
the projectors running: ``tests/integration/test_read_model_indexes.py``.)"""

from __future__ import annotations

import pytest

from shared.read_model_indexes import INDEXES, RETIRED

from query_api.application.queries import QUERIES, ApiQuery
from tests.support import index_docs
from tests.support.index_use import ID_INDEX, best

DECLARED = {(spec.collection, spec.name) for spec in INDEXES}


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.name)
def test_each_query_names_a_declared_index_that_serves_it_best(query: ApiQuery):
    serving = best(query.collection, query.filter, query.sort)
    if query.index is None:
        assert not serving, f"{query.name}: meant to scan, but {serving} would serve it"
        return
    assert query.index == ID_INDEX or (query.collection, query.index) in DECLARED, (
        f"{query.name} names {query.index!r}, which is not declared on {query.collection}"
    )
    assert serving == {query.index}, f"{query.name}: {query.index} named, but the best are {serving}"


def test_names_are_unique_and_retired_ones_stay_retired():
    names = [spec.name for spec in INDEXES]
    assert len(names) == len(set(names))
    assert not {name for _, name in RETIRED} & set(names)
    assert len({q.name for q in QUERIES}) == len(QUERIES)


def test_an_index_that_does_not_exist_or_does_not_serve_is_caught():
    # The two checks above catch these: a name nobody declared, and a declared index whose
    # keys the filter does not pin (what a typo in queries.py would give).
    orders = next(q for q in QUERIES if q.name == "orders of a customer")
    assert ("orders", "orders_merchant_email") not in DECLARED
    assert best(orders.collection, orders.filter, orders.sort) != {"orders_merchant_total"}
    assert best("orders", {"carrier": "ups"}) == set()  # no index leads with it


def test_docs_show_the_declared_indexes_and_queries():
    document = index_docs.DOC.read_text()
    assert index_docs.render(document) == document, "run `python -m tests.support.index_docs` and commit the result"
