"""Which appended records get an outbox entry (``command_api.adapters.outbox.entries_of``):
a commit to publish does; a commit stored published (the seeder's) and an outcome do not."""

from __future__ import annotations

import dataclasses

from command_api.adapters.outbox import entries_of
from tests.contracts.records import commit, new_id, outcome


def test_only_commits_to_publish_get_an_entry_keyed_by_the_commit_id():
    fresh, seeded = commit(new_id(), 3), dataclasses.replace(commit(new_id(), 1), published=True)
    (entry,) = entries_of([fresh, seeded, outcome(new_id())])
    assert (entry["_id"], entry["aggregate_id"], entry["version"]) == (fresh.id, fresh.aggregate_id, 3)
    assert entry["at"] >= fresh.committed_at  # written after the commit was made: its grace starts later


def test_a_commit_document_carries_the_flag_only_when_stored_published():
    fresh = commit(new_id(), 1)
    assert "published" not in fresh.to_document()
    assert dataclasses.replace(fresh, published=True).to_document()["published"] is True
