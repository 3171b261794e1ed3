"""The load summary's definitions: what an error is, reads and commands apart per step, and
issue 23's targets judged at the target step (pure: a hand-made record, no stack)."""

from __future__ import annotations

import pytest

from loadtests.outcomes import is_error
from loadtests.report import markdown
from loadtests.scenarios import Scenario, Step
from loadtests.summary import prepare, target_checks, target_step, window


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (200, None, False),
        (202, None, False),
        (204, None, False),
        (304, None, False),
        (409, "insufficient_stock", False),
        (409, "invalid_state", False),
        (409, "request_in_progress", True),
        (409, "contended", True),
        (409, "-", True),
        (429, "rate_limited", True),
        (503, "overloaded", True),
        (500, "-", True),
        (404, "not_found", True),
        (0, "-", True),  # timeout or no answer
    ],
)
def test_an_error_is_any_answer_but_2xx_304_and_the_business_409s_or_no_answer(status, code, error):
    assert is_error(status, code) is error


def _record(rows, verdicts=True):
    """rows: (second, ms, status, kind name, error)."""
    kinds = list(dict.fromkeys(r[3] for r in rows))
    record = {
        "t": [r[0] for r in rows],
        "ms": [r[1] for r in rows],
        "status": [r[2] for r in rows],
        "kind": [kinds.index(r[3]) for r in rows],
        "kinds": kinds,
        "by_name": {},
        "orders_accepted": [],
    }
    if verdicts:
        record["error"] = [int(r[4]) for r in rows]
    return prepare(record)


ROWS = [
    (0.1, 10.0, 200, "GET /v1/products", False),
    (0.2, 30.0, 304, "GET /v1/products/{id} If-None-Match", False),
    (0.3, 250.0, 409, "POST /v1/orders", False),  # insufficient_stock: a business answer
    (0.4, 90.0, 409, "POST /v1/orders", True),  # request_in_progress
    (0.5, 5.0, 429, "GET /v1/products", True),
    (1.5, 15000.0, 0, "GET /v1/products", True),
]


def test_a_window_counts_the_recorded_verdicts_and_splits_reads_from_commands():
    w = window(_record(ROWS), 0, 1)
    assert w["requests"] == 5 and w["errors"] == 2 and w["error_rate"] == 0.4
    assert w["reads"]["requests"] == 3 and w["reads"]["p50_ms"] == 10.0
    assert w["commands"]["requests"] == 2 and w["commands"]["p99_ms"] == pytest.approx(248.4)
    assert w["statuses"] == {"200": 1, "304": 1, "409": 2, "429": 1}
    assert window(_record(ROWS), 1, 2)["statuses"] == {"failed (no answer)": 1}


def test_an_older_record_without_verdicts_counts_every_answer_but_2xx_304_as_an_error():
    assert window(_record(ROWS, verdicts=False), 0, 2)["errors"] == 4


def _step(rate, p95, reads, commands, errors=0):
    return {
        "offered_rps": rate,
        "p95_ms": p95,
        "errors": errors,
        "reads": {"p95_ms": reads[0], "p99_ms": reads[1]},
        "commands": {"p95_ms": commands},
    }


def test_the_targets_are_read_at_the_highest_step_up_to_500():
    steps = [_step(100, 1, (1, 1), 1), _step(500, 1, (1, 1), 1), _step(600, 1, (1, 1), 1)]
    assert target_step(steps)["offered_rps"] == 500
    assert target_step([_step(800, 1, (1, 1), 1), _step(900, 1, (1, 1), 1)])["offered_rps"] == 800
    assert target_step([]) is None


def test_each_must_show_target_is_met_or_not_at_its_bound():
    met = {c["measure"]: c["met"] for c in target_checks(_step(500, 199.9, (50, 200), 300))}
    assert met == {
        "all requests p95 ms": True,
        "reads p95 ms": True,
        "reads p99 ms": True,
        "commands p95 ms": True,
        "errors": True,
    }
    missed = {c["measure"]: c["met"] for c in target_checks(_step(500, 200, (50.1, 201), 301, errors=1))}
    assert not any(missed.values())
    no_commands = {c["measure"]: c["met"] for c in target_checks(_step(500, 10, (5, 9), None))}
    assert no_commands["commands p95 ms"] is None


def test_the_markdown_shows_the_targets_and_reads_and_commands_per_step():
    from loadtests.summary import summarise

    class Sampled:
        rss, cache, lag = [], [], []

    record = {
        "t": [r[0] for r in ROWS],
        "ms": [r[1] for r in ROWS],
        "status": [r[2] for r in ROWS],
        "kind": [0, 1, 2, 2, 0, 0],
        "kinds": ["GET /v1/products", "GET /v1/products/{id} If-None-Match", "POST /v1/orders"],
        "error": [int(r[4]) for r in ROWS],
        "by_name": {"GET /v1/products 200": 1, "POST /v1/orders 409": 2},
        "orders_accepted": [],
        "error_codes": {"POST /v1/orders 409 insufficient_stock": 1},
    }
    meta = {"started_utc": "2026-12-06 06:00", "seconds": 2, "peak_rps": 20, "host": "2 cores", "generator": "x"}
    result = summarise(record, Scenario("smoke", "20 requests/s", (Step(2, 20),)), Sampled, None, meta)
    assert result["target_step"]["offered_rps"] == 20 and result["knee_rps"] is None
    text = markdown(result)
    assert "| errors | 3 | ≤ 0 | **no** |" in text
    assert "| commands p95 ms | 242.00 | ≤ 300 | yes |" in text
    assert (
        "| 20 | 3.0 | 60.00 / 11,312.50 / 14,262.50 | 20.00 / 12,754.50 / 14,550.90 | "
        "170.00 / 242.00 / 248.40 | 3 (50.00%) |" in text
    )
