"""The projector's steps per event (``loadtests.bench.phases``), from ``/metrics`` texts
rendered by prometheus_client as the projector renders them: what a round counts is the
growth since the scrape before, and the table gives it per event of the round."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from loadtests.bench import phases
from loadtests.bench.rounds import Pair, PairResult, RoundResult, Side
from loadtests.ops import phase_seconds


class Projector:
    """A registry with the projector's phase histogram and MongoDB command counts."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.phase = Histogram("merchant_projector_phase_seconds", "steps", ["stream", "phase"], registry=self.registry)
        self.mongo = Histogram(
            "mongodb_command_duration_seconds", "commands", ["command", "outcome"], registry=self.registry
        )

    def run(self, seconds: dict[tuple[str, str], float], operations: int) -> str:
        for (stream, phase), s in seconds.items():
            self.phase.labels(stream, phase).observe(s)
        for _ in range(operations):
            self.mongo.labels("update", "ok").observe(0.001)
        return generate_latest(self.registry).decode()


def test_the_phase_sums_are_read_by_stream_and_phase():
    text = Projector().run({("products", "read"): 0.25, ("products", "states"): 0.5, ("orders", "read"): 0.125}, 0)
    assert phase_seconds(text) == {("products", "read"): 0.25, ("products", "states"): 0.5, ("orders", "read"): 0.125}
    assert phase_seconds("# nothing here\n") == {}


def test_a_round_counts_what_grew_since_the_scrape_before():
    projector, counters = Projector(), phases.Counters("http://127.0.0.1:1/metrics")
    assert counters.advance(projector.run({("products", "read"): 1.0}, operations=7)) == {}  # the warm-up
    grew = counters.advance(projector.run({("products", "read"): 0.5, ("orders", "views"): 0.25}, operations=3))
    assert grew == pytest.approx({"phase products.read": 0.5, "phase orders.views": 0.25, "mongodb_ops": 3})
    # nothing done between two scrapes (paused): nothing counted
    assert counters.advance(projector.run({}, operations=0)) == pytest.approx(
        {"phase products.read": 0.0, "phase orders.views": 0.0, "mongodb_ops": 0}
    )


def metered(events: int, seconds: float, work: dict[str, float]) -> RoundResult:
    result = RoundResult(events, seconds)
    result.work = work
    return result


def test_the_table_gives_ms_per_event_by_stream_and_phase_in_the_engines_order():
    # two rounds of 1,000 events in 1 s: 1 ms of wall time per event, 0.7 and 0.9 of it in phases
    work = {"phase products.states": 0.4, "phase products.read": 0.2, "phase orders.read": 0.1, "mongodb_ops": 900}
    rounds = [metered(1000, 1.0, work), metered(1000, 1.0, {**work, "phase orders.read": 0.3})]
    pair = Pair("projector", "projectors", "events/s", Side("ours", None), Side("raw", None))
    header, body = phases.rows([PairResult(pair, rounds, [metered(1000, 0.1, {})] * 2)])
    assert header == [
        "hot path",
        "stream",
        "read ms/event",
        "states ms/event",
        "all phases ms/event",
        "round wall ms/event",
    ]
    assert body == [
        ["projector", "orders", "0.20 (0.10–0.30)", "0.00 (0.00–0.00)", "**0.20 (0.10–0.30)**", ""],
        ["projector", "products", "0.20 (0.20–0.20)", "0.40 (0.40–0.40)", "**0.60 (0.60–0.60)**", ""],
        [
            "projector",
            "all streams",
            "0.40 (0.30–0.50)",
            "0.40 (0.40–0.40)",
            "**0.80 (0.70–0.90)**",
            "1.00 (1.00–1.00)",
        ],
    ]


def test_no_table_when_no_round_read_the_phases():
    pair = Pair("adjust stock", "commands", "accepted/s", Side("ours", None), Side("raw", None))
    only_operations = PairResult(pair, [metered(10, 1.0, {"mongodb_ops": 10, "cpu_seconds": 0.1})], [])
    assert phases.section([only_operations]) is None
    assert phases.rows([only_operations])[1] == []
