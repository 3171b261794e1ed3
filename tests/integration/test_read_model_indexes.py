"""Every read-model index exists, and every query the query API makes uses its index.

On MongoDB the winning plan must name the intended index. FerretDB v1 (SQLite backend)
plans no secondary indexes at all: its explain shows a table ``SCAN`` for every one of
these queries (``filterPushdown: false``) — so there we assert that the index exists with
the intended keys and record what explain says; docs/indexes.md explains the difference.
"""

from __future__ import annotations

import pytest

from shared.read_model_indexes import INDEXES

from merchant_testkit.plugin import own_namespace_fixtures
from projectors.adapters.explain import explain, index_names_in, is_ferretdb
from projectors.adapters.indexes import ensure_read_model_indexes, supports_partial_indexes

pytestmark = pytest.mark.integration
# The query API declares some indexes on the same keys under its own names; whichever
# is created first serves. This module checks the projectors' names, so it needs a
# database where only they have run.
server_env, settings, mongo_db = own_namespace_fixtures()


async def test_indexes_are_created_idempotently_with_detected_partial_support(mongo_db):
    first = await ensure_read_model_indexes(mongo_db)
    again = await ensure_read_model_indexes(mongo_db)
    assert first == again and first["created"] == len(INDEXES)
    assert first["partial"] == await supports_partial_indexes(mongo_db)
    assert first["partial"] is not await is_ferretdb(mongo_db)
    product_views = [s for s in INDEXES if s.collection in ("catalog_products", "merchant_products", "categories")]
    assert len(product_views) >= 12 and len([s for s in INDEXES if s.collection == "orders"]) >= 8
    assert all(len(s.keys) >= 2 for s in INDEXES)


@pytest.mark.parametrize("spec", INDEXES, ids=lambda s: s.name)
async def test_each_query_uses_its_index(mongo_db, spec):
    await ensure_read_model_indexes(mongo_db)
    info = await mongo_db[spec.collection].index_information()
    partial = await supports_partial_indexes(mongo_db)
    expected = list(spec.keys if partial or not spec.partial else spec.fallback_keys())
    assert [tuple(k) for k in info[spec.name]["key"]] == [tuple(k) for k in expected]
    plan = await explain(mongo_db, spec)
    if await is_ferretdb(mongo_db):
        assert "queryPlanner" in plan  # FerretDB: a SCAN, no index planning (see module doc)
    else:
        assert spec.name in index_names_in(plan["queryPlanner"]["winningPlan"]), plan
