"""``application.replay.ReplayStore`` on the in-memory store: what a flush leaves in the
target is what the engine wrote, written once; past its bound it spills the states and
reads them back from the target; collections it does not hold go straight through."""

from __future__ import annotations

from projectors.adapters.memory_store import MemoryReadModels
from projectors.application.replay import ReplayStore


def doc(i: str, version: int, **fields) -> dict:
    return {"_id": i, "version": version, **fields}


async def test_a_flush_writes_what_the_engine_left_once_and_deletes_what_it_deleted():
    target = MemoryReadModels()
    store = ReplayStore(target, ["states", "counters"], indexes={"counters": (("key",),)})
    await store.write_newer("states", [doc("a", 1), doc("b", 1)])
    await store.write_newer("states", [doc("a", 2), doc("b", 1, stale=True)])  # b: not newer
    await store.append("counters", [doc("k|1", 1, key="k"), doc("k|2", 2, key="k")])
    await store.delete_ids("counters", ["k|1"])
    assert target.collections == {}  # nothing written before a flush
    assert [c["_id"] for c in await store.find_in("counters", "key", ["k"])] == ["k|2"]
    await store.flush()
    assert target.collections["states"] == {"a": doc("a", 2), "b": doc("b", 1)}
    assert target.collections["counters"] == {"k|2": doc("k|2", 2, key="k")}
    assert store.written == 3
    await store.delete_ids("counters", ["k|2"])  # flushed, then deleted: deleted at the next flush
    await store.flush()
    assert target.collections["counters"] == {}


async def test_past_its_bound_it_spills_the_states_and_reads_them_back():
    target = MemoryReadModels()
    store = ReplayStore(target, ["states", "views"], spill=["states"], bound=3)
    await store.write_newer("states", [doc("a", 1), doc("b", 1)])
    await store.write_newer("views", [doc("a", 1), doc("b", 1)])
    await store.settle()
    assert store.flushes == 1 and store.size == 2  # the views stay, the states went
    assert await store.find_ids("states", ["a", "b", "c"]) == {"a": doc("a", 1), "b": doc("b", 1)}
    await store.write_newer("states", [doc("a", 1, old=True), doc("b", 3)])  # a: as stored, not newer
    await store.flush()
    assert target.collections["states"] == {"a": doc("a", 1), "b": doc("b", 3)}


async def test_collections_it_does_not_hold_go_straight_to_the_target():
    target = MemoryReadModels()
    store = ReplayStore(target, ["states"])
    await store.write_newer("parked", [doc("p", 1)])
    assert target.collections["parked"] == {"p": doc("p", 1)}
    assert await store.find_ids("parked", ["p"]) == {"p": doc("p", 1)}
