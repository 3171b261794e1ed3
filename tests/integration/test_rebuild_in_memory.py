"""The in-memory rebuild (``application.replay``) leaves what the store-backed one leaves.

On the real servers, from a generated history of every event type (price changes,
cancellations, refunds, renames; merchant_testkit/event_stream.py) at the issue-4 CI
size: each stream rebuilt into its shadows by the store-backed replay (``in_memory=False``,
the reference), then by the in-memory one — with its default bound (one flush at the end)
and with a bound small enough that it flushes, spills the states and reads them back from
the shadow many times. Every shadow collection of the stream (states, views, derived
documents and their counters, merchant names) must be equal document for document, field
for field: ``version``, ``sources`` and the writer's ``_rev`` included.
"""

from __future__ import annotations

import os

import pytest

from merchant_testkit.event_stream import generate, store
from merchant_testkit.plugin import own_namespace_fixtures
from projectors.entrypoints.rebuild import drop_shadows, rebuild, shadow_names
from projectors.entrypoints.streams import STREAMS

pytestmark = pytest.mark.integration
server_env, settings, mongo_db = own_namespace_fixtures()
EVENTS = max(300, int(10_000 * float(os.environ.get("PROJECTOR_TEST_EVENTS", "1"))))
SMALL_BOUND = 400  # documents: far below the history's, so it flushes and spills


async def shadows_of(db, stream) -> dict[str, list[dict]]:
    return {
        logical: await db[physical].find().sort("_id").to_list() for logical, physical in shadow_names(stream).items()
    }


async def rebuilt(db, stream, flushes=None, **options) -> dict[str, list[dict]]:
    result = await rebuild(db, stream.state, swap_in=False, **options)
    try:
        assert result.events > 0
        if flushes is not None:
            assert flushes(result.flushes), f"{stream.name}: {result.flushes} flushes"
        return await shadows_of(db, stream)
    finally:
        await drop_shadows(db, stream.state)


@pytest.mark.timeout(900)
async def test_in_memory_rebuild_equals_the_store_backed_one_field_for_field(mongo_db):
    await store(mongo_db, generate(EVENTS, seed=15))
    for stream in STREAMS:
        reference = await rebuilt(mongo_db, stream, in_memory=False)
        assert reference[stream.state], f"{stream.name}: the history reached it"
        for bound in (None, SMALL_BOUND):
            options = {"in_memory": True} | ({"bound": bound} if bound else {})
            # Once at the end; with the small bound, again whenever the bound was passed.
            once = bound is None or sum(len(docs) for docs in reference.values()) <= SMALL_BOUND
            got = await rebuilt(mongo_db, stream, flushes=(lambda n: n == 1) if once else (lambda n: n > 1), **options)
            assert got.keys() == reference.keys()
            for collection, docs in reference.items():
                assert [d["_id"] for d in got[collection]] == [d["_id"] for d in docs], (collection, bound)
                for ours, theirs in zip(got[collection], docs, strict=True):
                    assert ours == theirs, f"{collection} {theirs['_id']} (bound {bound})"
