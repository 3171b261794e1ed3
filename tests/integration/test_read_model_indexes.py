"""Every read-model index exists, serves a query, and every query is served by an index.

- Created idempotently with the intended keys, partial where the server supports it; the
  retired indexes are dropped where they exist.
- Used: every declared index is the index of a query in ``query_api.application.queries``
  or of a read the **projectors** make — taken from what they actually send: a rebuild of
  every stream from a generated event history runs under a pymongo command listener, and
  each ``find``/``update``/``delete`` filter they send on a read model is matched with the
  declared indexes (``tests.support.index_use``). An index nothing uses fails the test (it
  would be written on every batch for nothing), and so does a projector read on a read
  model that no index serves (a collection scan per batch on MongoDB). When the projectors
  change what they read (issue 15: incremental statistics stop reading orders by day), this
  test says which index went out of use.
- On MongoDB the winning plan of each index's own query names it. FerretDB v1 plans no
  secondary index for these (see docs/indexes.md): there the keys are checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from pymongo import monitoring

from shared import mongo
from shared.read_model_indexes import INDEXES, RETIRED, drop_retired_indexes
from shared.read_models import ALL, MERCHANT_NAMES

from merchant_testkit.event_stream import generate, store
from merchant_testkit.plugin import own_namespace_fixtures
from projectors.adapters.bulk import detect_writer
from projectors.adapters.explain import explain, index_names_in, is_ferretdb
from projectors.adapters.indexes import ensure_read_model_indexes, supports_partial_indexes
from projectors.adapters.mongo_store import MongoReadModels
from projectors.application.merchant_names import Rename, apply_renames
from projectors.entrypoints.rebuild import SHADOW_SUFFIX, drop_shadows, rebuild
from projectors.entrypoints.streams import STREAMS
from query_api.application.queries import QUERIES
from tests.support.index_use import best, candidates

pytestmark = pytest.mark.integration
# A database where only these tests create indexes and project events.
server_env, settings, mongo_db = own_namespace_fixtures()


async def test_indexes_are_created_idempotently_with_detected_partial_support(mongo_db):
    first = await ensure_read_model_indexes(mongo_db)
    again = await ensure_read_model_indexes(mongo_db)
    assert first == again and first["created"] == len(INDEXES)
    assert first["partial"] == await supports_partial_indexes(mongo_db)
    assert first["partial"] is not await is_ferretdb(mongo_db)
    assert all(len(s.keys) >= 2 for s in INDEXES)


async def test_retired_indexes_are_dropped_where_they_exist(mongo_db):
    collection, name = RETIRED[0]
    await mongo_db[collection].create_index([("merchant_id", 1), ("retired_field", 1)], name=name)
    assert await drop_retired_indexes(mongo_db) == 1
    assert name not in await mongo_db[collection].index_information()
    assert await drop_retired_indexes(mongo_db) == 0  # none left: nothing to do, no error


@pytest.mark.parametrize("spec", INDEXES, ids=lambda s: s.name)
async def test_each_index_has_its_keys_and_serves_its_query(mongo_db, spec):
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


@dataclass
class Reads(monitoring.CommandListener):
    """The filters (and sorts) of every command that selects documents, by collection."""

    seen: list[tuple[str, dict[str, Any], tuple[tuple[str, int], ...]]] = field(default_factory=list)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        command, name = event.command, event.command_name
        collection = str(command.get(name, "")).removesuffix(SHADOW_SUFFIX)
        if name in ("find", "findAndModify", "count", "distinct"):
            self._add(collection, command.get("filter") or command.get("query") or {}, command.get("sort"))
        elif name in ("update", "delete"):
            for statement in command.get("updates" if name == "update" else "deletes", ()):
                self._add(collection, statement["q"], None)
        elif name == "aggregate" and command.get("pipeline") and "$match" in command["pipeline"][0]:
            self._add(collection, command["pipeline"][0]["$match"], None)

    def _add(self, collection: str, filters: dict[str, Any], sort: Any) -> None:
        self.seen.append((collection, dict(filters), tuple((sort or {}).items())))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture(scope="module")
async def projector_reads(settings, mongo_db) -> list[tuple[str, dict[str, Any], tuple[tuple[str, int], ...]]]:
    """What the projectors read while projecting a history of every event type: the
    rebuild of each stream runs the live path (``apply_batch``, derived read models); a
    merchant's rename reaches its products through the fan-out topic, not a rebuild, so
    its path (``apply_renames``) is run on its own."""
    await store(mongo_db, generate(1500, seed=20))
    reads = Reads()
    client = mongo.open_mongo(settings, event_listeners=[reads])
    try:
        db = mongo.database(client, settings)
        for stream in STREAMS:
            # The store-backed replay: it reads what the live projector reads (the
            # in-memory one reads the shadows only from memory).
            await rebuild(db, stream.state, swap_in=False, in_memory=False)
            await drop_shadows(db, stream.state)
        renamed = Rename("m_sample", "Renamed", 10**6)
        await apply_renames(MongoReadModels(db, await detect_writer(db)), [renamed], owns=lambda _id: True)
    finally:
        await client.close()
    # Every read model, and any collection with declared indexes (counters the projectors keep...).
    indexed = (set(ALL) - {MERCHANT_NAMES}) | {spec.collection for spec in INDEXES}
    return [(c, f, s) for c, f, s in reads.seen if c in indexed and f]


async def test_every_projector_read_is_served_by_an_index(projector_reads):
    assert {c for c, _, _ in projector_reads} >= {"merchant_products", "orders"}  # the history reached them
    unserved = {(c, repr(f)) for c, f, s in projector_reads if not candidates(c, f, s)}
    assert not unserved, f"projector reads no index serves (a scan per batch on MongoDB): {sorted(unserved)}"


async def test_every_declared_index_serves_a_query_or_a_projector_read(projector_reads):
    by_queries = {q.index for q in QUERIES}
    by_projectors = set()
    for collection, filters, sort in projector_reads:
        chosen = best(collection, filters, sort)
        if len(chosen) == 1:  # ties: any of them serves, none is needed by this read alone
            by_projectors |= chosen
    unused = sorted(spec.name for spec in INDEXES if spec.name not in by_queries | by_projectors)
    assert not unused, (
        f"declared indexes that no query of query_api.application.queries and no projector read uses: {unused}; "
        "drop them (shared/read_model_indexes.py: move them to RETIRED)"
    )
