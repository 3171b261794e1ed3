"""OutboxPort: the commits not yet marked published, found in version order until marked,
on every adapter."""

from __future__ import annotations

from datetime import timedelta

from shared.events import utc_now

from tests.contracts.records import commit, new_id, outcome


def later():
    return utc_now() + timedelta(seconds=5)


async def test_a_commit_is_unpublished_until_marked(backend):
    c = commit(new_id(), 1)
    await backend.store.append(c)
    assert [x.id for x in await backend.store.unpublished(older_than=later())] == [c.id]
    assert await backend.store.unpublished(older_than=c.committed_at) == []  # not older than that
    await backend.store.mark_published([c.id])
    assert await backend.store.unpublished(older_than=later()) == []


async def test_unpublished_commits_come_in_version_order_per_aggregate(backend):
    a, b = new_id(), new_id()
    for record in (commit(b, 1), commit(a, 2, command_id=None), commit(a, 1), commit(b, 2)):
        await backend.store.append(record)
    pending = await backend.store.unpublished(older_than=later())
    for aggregate in (a, b):
        assert [c.version for c in pending if c.aggregate_id == aggregate] == [1, 2]


async def test_one_call_marks_many_and_outcomes_are_never_pending(backend):
    commits = [commit(new_id(), 1) for _ in range(5)]
    await backend.store.append_batch([*commits, outcome(new_id())])
    pending = await backend.store.unpublished(older_than=later())
    assert {c.id for c in pending} == {c.id for c in commits}
    await backend.store.mark_published([c.id for c in commits[:4]])
    assert [c.id for c in await backend.store.unpublished(older_than=later())] == [commits[4].id]


async def test_a_commit_with_an_intent_stays_pending_with_it(backend):
    held = commit(new_id(), 1, hold=True)
    await backend.store.append(held)
    (pending,) = await backend.store.unpublished(older_than=later())
    assert pending.intent == held.intent and not pending.settled


async def test_commits_the_caller_leaves_are_not_returned(backend):
    """The relay leaves what the publisher has in hand; the others still come, in order."""
    a = new_id()
    kept, left = commit(a, 1), commit(a, 2)
    await backend.store.append_batch([kept, left])
    asked = []

    def leave(commit_id):
        asked.append(commit_id)
        return commit_id == left.id

    assert [c.id for c in await backend.store.unpublished(older_than=later(), leave=leave)] == [kept.id]
    assert set(asked) == {kept.id, left.id}  # asked by id, before decoding
