"""EventStorePort: atomic commits, optimistic concurrency, one record per command id —
single and batched appends — on every adapter."""

from __future__ import annotations

import asyncio

import pytest

from command_api.application.ports import Commit, ConcurrencyConflict, DuplicateCommand, Outcome, PartlyStored
from tests.contracts.records import commit, new_id, outcome


async def test_commits_load_back_in_version_order(backend):
    aggregate = new_id()
    await backend.store.append(commit(aggregate, 1, count=3))
    await backend.store.append(commit(aggregate, 4, count=2))
    assert [e.aggregate_version for e in await backend.store.load(aggregate)] == [1, 2, 3, 4, 5]
    assert [e.aggregate_version for e in await backend.store.load(aggregate, after_version=3)] == [4, 5]
    assert await backend.store.load(new_id()) == []


async def test_two_writers_at_the_same_version_exactly_one_wins(backend):
    aggregate = new_id()
    await backend.store.append(commit(aggregate, 1))
    results = await asyncio.gather(
        *(backend.store.append(commit(aggregate, 2)) for _ in range(8)), return_exceptions=True
    )
    assert sum(r is None for r in results) == 1
    assert sum(isinstance(r, ConcurrencyConflict) for r in results) == 7
    assert len(await backend.store.load(aggregate)) == 2


async def test_a_batch_of_one_is_refused_as_a_member_would_be(backend):
    """A lone append is written on its own (MongoDB: ``insert_one``); its refusals are
    classified as a batch member's."""
    aggregate, first = new_id(), commit(new_id(), 1)
    await backend.store.append(first)
    await backend.store.append(commit(aggregate, 1))
    (conflict,) = await backend.store.append_batch([commit(aggregate, 1)])
    (duplicate,) = await backend.store.append_batch([commit(new_id(), 1, command_id=first.command_id)])
    assert isinstance(conflict, ConcurrencyConflict)
    assert isinstance(duplicate, DuplicateCommand) and duplicate.earlier.id == first.id  # type: ignore[union-attr]
    assert await backend.store.append_batch([commit(aggregate, 2)]) == [None]


async def test_a_command_id_has_one_record_and_a_retry_gets_it(backend):
    first = commit(new_id(), 1, fingerprint="fp-1")
    await backend.store.append(first)
    with pytest.raises(DuplicateCommand) as raised:
        await backend.store.append(commit(new_id(), 1, command_id=first.command_id))
    earlier = raised.value.earlier
    assert isinstance(earlier, Commit) and earlier.id == first.id and earlier.fingerprint == "fp-1"


async def test_an_outcome_and_a_commit_exclude_each_other(backend):
    refused = outcome(new_id())
    await backend.store.append(refused)
    with pytest.raises(DuplicateCommand) as raised:  # the command may not act after being refused
        await backend.store.append(commit(new_id(), 1, command_id=refused.command_id))
    assert isinstance(raised.value.earlier, Outcome) and raised.value.earlier.answer == refused.answer
    acted = commit(new_id(), 1)
    await backend.store.append(acted)
    with pytest.raises(DuplicateCommand) as raised:  # nor be refused after acting
        await backend.store.append(outcome(acted.command_id))
    assert isinstance(raised.value.earlier, Commit)


async def test_a_mixed_batch_gives_each_member_its_own_outcome(backend):
    taken, known = new_id(), commit(new_id(), 1)
    await backend.store.append(commit(taken, 1))
    await backend.store.append(known)
    fresh_a, fresh_b = commit(new_id(), 1), commit(new_id(), 1)
    results = await backend.store.append_batch(
        [fresh_a, commit(taken, 1), commit(new_id(), 1, command_id=known.command_id), outcome(new_id()), fresh_b]
    )
    assert results[0] is None and results[3] is None and results[4] is None
    assert isinstance(results[1], ConcurrencyConflict)
    assert isinstance(results[2], DuplicateCommand) and results[2].earlier.id == known.id
    for stored in (fresh_a, fresh_b):
        assert len(await backend.store.load(stored.aggregate_id)) == 1  # the others committed


async def test_one_command_twice_in_one_batch_is_stored_once(backend):
    command_id = new_id()
    results = await backend.store.append_batch([commit(new_id(), 1, command_id=command_id), outcome(command_id)])
    assert results[0] is None and isinstance(results[1], DuplicateCommand)


async def test_find_by_command_returns_the_record_as_stored(backend):
    held = commit(new_id(), 1, fingerprint="fp", hold=True)
    refused = outcome(new_id(), status=422)
    await backend.store.append_batch([held, refused])
    found = await backend.store.find_by_command(held.command_id)
    assert isinstance(found, Commit) and found.intent == held.intent and found.events == held.events
    assert not found.settled and found.fingerprint == "fp"
    found = await backend.store.find_by_command(refused.command_id)
    assert isinstance(found, Outcome) and found.answer.status == 422 and found.fingerprint == "fp"
    assert await backend.store.find_by_command(new_id()) is None


async def test_a_binding_holds_the_key_until_the_same_request_unbinds_it(backend):
    command_id = new_id()
    binding = Outcome(command_id, "m1", None, "fp")
    await backend.store.append(binding)
    with pytest.raises(DuplicateCommand) as raised:
        await backend.store.append(commit(new_id(), 1, command_id=command_id))
    assert isinstance(raised.value.earlier, Outcome) and raised.value.earlier.binding
    await backend.store.unbind(command_id, "another-fp")  # not its binding: kept
    assert await backend.store.find_by_command(command_id) is not None
    await backend.store.unbind(command_id, "fp")
    assert await backend.store.find_by_command(command_id) is None
    await backend.store.append(commit(new_id(), 1, command_id=command_id))
    await backend.store.unbind(command_id, "fp")  # a commit is never unbound
    assert isinstance(await backend.store.find_by_command(command_id), Commit)


# -- chains (a hold, then the order counting on it) and required writes (a SKU claim) ----------
async def stored(backend, record: Commit) -> bool:
    found = await backend.store.find_by_command(record.command_id)
    return found is not None and found.id == record.id


async def test_a_chain_is_stored_in_order(backend):
    first, then = commit(new_id(), 1), commit(new_id(), 1)
    await backend.store.append_chain([first, then])
    assert await stored(backend, first)
    assert await stored(backend, then)


async def test_a_chain_whose_first_record_is_refused_stores_nothing(backend):
    aggregate = new_id()
    await backend.store.append(commit(aggregate, 1))
    then = commit(new_id(), 1)
    with pytest.raises(ConcurrencyConflict):
        await backend.store.append_chain([commit(aggregate, 1), then])
    assert await backend.store.find_by_command(then.command_id) is None


async def test_a_chain_refused_after_its_first_record_says_how_far_it_got(backend):
    fence = outcome(new_id())
    await backend.store.append(fence)
    first = commit(new_id(), 1)
    with pytest.raises(PartlyStored) as raised:
        await backend.store.append_chain([first, commit(new_id(), 1, command_id=fence.command_id)])
    assert raised.value.stored == 1 and isinstance(raised.value.error, DuplicateCommand)
    assert raised.value.error.earlier.id == fence.id
    assert await stored(backend, first)


async def test_chains_and_records_appended_together_each_get_their_own_outcome(backend):
    """Under load a chain shares a group commit with others (MongoDB: one insert per position)."""
    taken, fence = new_id(), outcome(new_id())
    await backend.store.append(commit(taken, 1))
    await backend.store.append(fence)
    whole = [commit(new_id(), 1), commit(new_id(), 1)]
    cut = [commit(new_id(), 1), commit(new_id(), 1, command_id=fence.command_id)]
    refused = [commit(taken, 1), commit(new_id(), 1)]
    single = commit(new_id(), 1)
    results = await asyncio.gather(
        backend.store.append_chain(whole),
        backend.store.append_chain(cut),
        backend.store.append_chain(refused),
        backend.store.append(single),
        return_exceptions=True,
    )
    assert results[0] is None and results[3] is None
    assert isinstance(results[1], PartlyStored) and results[1].stored == 1
    assert isinstance(results[2], ConcurrencyConflict)
    kept = [r for r in [*whole, *cut, *refused, single] if await stored(backend, r)]
    assert kept == [*whole, cut[0], single]


async def test_a_record_is_stored_only_if_the_write_it_requires_succeeds(backend):
    class Refused(Exception):
        pass

    async def refuse() -> None:
        raise Refused

    ran = []

    async def succeed() -> None:
        ran.append(True)

    wanted, dropped = commit(new_id(), 1), commit(new_id(), 1)
    await backend.store.append(wanted, requires=succeed)
    with pytest.raises(Refused):
        await backend.store.append(dropped, requires=refuse)
    assert ran == [True]
    assert await stored(backend, wanted)
    assert await backend.store.find_by_command(dropped.command_id) is None
