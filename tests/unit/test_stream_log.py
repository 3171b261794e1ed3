"""The projector's and workers' per-batch log line names the batch's commands, boundedly."""

from shared.observability.stream import LOGGED_CORRELATION_IDS, logged_correlation_ids


def test_a_small_batch_lists_every_correlation_id():
    assert logged_correlation_ids(["a", "b"]) == {"correlation_ids": ["a", "b"], "correlation_ids_total": 2}


def test_a_catch_up_batch_lists_the_first_ones_and_counts_them_all():
    ids = [f"c{i}" for i in range(1000)]
    logged = logged_correlation_ids(ids)
    assert logged["correlation_ids"] == ids[:LOGGED_CORRELATION_IDS]
    assert logged["correlation_ids_total"] == 1000
