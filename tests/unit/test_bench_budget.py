"""The CPU budget of a command by process (``loadtests.bench.budget``), from made-up meter
readings: CPU ms per operation, their sum, the machine's remainder and the ceiling they
imply — the arithmetic and the table, no servers and no timing."""

from __future__ import annotations

import pytest

from loadtests.bench import budget, report
from loadtests.bench.rounds import Pair, PairResult, RoundResult, Side
from loadtests.ops import Meter, Reading

API, FERRET, PG, KAFKA, BENCH = (name for name, _ in budget.COLUMNS)


def reading(cpu: dict[str, float], machine: float, at: float) -> Reading:
    return Reading(cpu=cpu, machine=machine, at=at)


def metered_round(operations: int, cpu: dict[str, float], machine: float) -> RoundResult:
    """A 1-second round whose meter read ``cpu`` (seconds, by process) and ``machine`` more
    after it than before (the readings start from arbitrary counters, as psutil's do)."""
    start = {name: 100.0 for name in cpu}
    before = reading(start, 5000.0, at=10.0)
    after = reading({name: 100.0 + s for name, s in cpu.items()}, 5000.0 + machine, at=11.0)
    result = RoundResult(operations, 1.0)
    result.usage = Meter.between(before, after)
    return result


def pair(ours: list[RoundResult], baseline: list[RoundResult]) -> PairResult:
    p = Pair("adjust stock", "commands", "accepted/s", Side("command API", None), Side("raw loop", None))
    return PairResult(p, ours, baseline)


OURS_CPU = {API: 0.5, FERRET: 0.3, PG: 0.2, KAFKA: 0.1, BENCH: 0.1}  # 1.2 s over the round
RAW_CPU = {API: 0.0, FERRET: 0.4, PG: 0.3, KAFKA: 0.0, BENCH: 0.3}  # 1.0 s


def test_cost_per_operation_by_process_their_sum_and_what_the_machine_did_besides():
    cost = budget.cost_ms(metered_round(1000, OURS_CPU, machine=1.4))
    assert cost == pytest.approx(
        {API: 0.5, FERRET: 0.3, PG: 0.2, KAFKA: 0.1, BENCH: 0.1, "sum": 1.2, "machine": 1.4, "not attributed": 0.2}
    )


def test_a_round_not_metered_or_with_nothing_done_has_no_cost():
    assert budget.cost_ms(RoundResult(10, 1.0)) is None
    assert budget.cost_ms(metered_round(0, OURS_CPU, machine=1.0)) is None


def test_the_ceiling_is_what_the_cores_allow_at_that_cost():
    assert budget.ceiling(1.0, cores=2) == 2000
    assert budget.ceiling(4.0, cores=2) == 500
    assert budget.ceiling(0.0, cores=2) == float("inf")


def test_rows_give_both_sides_with_the_ceiling_and_what_ours_cost_allows_against_the_raw_loop():
    # ours: 1,000/s at 1.2 ms (ceiling 1,667/s); raw loop: 1,600/s at 1.0 ms (ceiling 2,000/s)
    ours = [metered_round(1000, OURS_CPU, machine=1.4), metered_round(1000, OURS_CPU, machine=1.2)]
    raw = [metered_round(1600, {k: v * 1.6 for k, v in RAW_CPU.items()}, machine=1.6)] * 2
    ours_row, raw_row = budget.rows([pair(ours, raw)], cores=2)
    assert dict(zip(budget.HEADER, ours_row, strict=True)) == {
        "hot path": "adjust stock",
        "side": "ours",
        "rate /s": "1,000 (1,000–1,000)",
        "command API (+ relay) CPU ms/op": "0.50 (0.50–0.50)",
        "FerretDB CPU ms/op": "0.30 (0.30–0.30)",
        "PostgreSQL CPU ms/op": "0.20 (0.20–0.20)",
        "Kafka CPU ms/op": "0.10 (0.10–0.10)",
        "bench process (client / raw loop) CPU ms/op": "0.10 (0.10–0.10)",
        "sum ms/op": "**1.20 (1.20–1.20)**",
        "machine ms/op": "1.30 (1.20–1.40)",
        "not attributed ms/op": "0.10 (0.00–0.20)",
        "ceiling /s (cores × 1000 ÷ sum)": "1,667 (1,667–1,667)",
        "rate ÷ ceiling": "60.0% (60.0–60.0)",
        # 1,667 / 1,600: at its CPU cost ours could at best reach 1.04× the raw loop here
        "ours' ceiling ÷ baseline rate": "**1.04 (1.04–1.04)**",
    }
    assert raw_row[:3] == ["adjust stock", "baseline", "1,600 (1,600–1,600)"]
    assert raw_row[3] == "0.00 (0.00–0.00)" and raw_row[8] == "**1.00 (1.00–1.00)**"
    assert raw_row[11:] == ["2,000 (2,000–2,000)", "80.0% (80.0–80.0)", "—"]


def test_a_server_not_found_is_a_dash_and_out_of_the_sum_its_cpu_not_attributed():
    cpu = {name: s for name, s in OURS_CPU.items() if name != KAFKA}
    [row] = budget.rows([pair([metered_round(1000, cpu, machine=1.2)], [])], cores=2)
    assert row[6] == "—"  # Kafka
    assert row[8] == "**1.10**" and row[10] == "0.10"  # sum without it; its 0.1 s not attributed


def test_a_negative_remainder_reads_as_one_not_as_an_error():
    [row] = budget.rows([pair([metered_round(1000, OURS_CPU, machine=1.15)], [])], cores=2)
    assert row[10] == "-0.050"
    assert report.number(-1234.5) == "-1,234"


def test_pairs_not_metered_are_left_out_and_no_table_without_any():
    unmetered = pair([RoundResult(10, 1.0)], [RoundResult(20, 1.0)])
    assert budget.rows([unmetered], cores=2) == []
    assert budget.section([unmetered], cores=2) is None


def test_the_section_puts_the_budget_table_under_the_main_one():
    facts = report.Facts("2026-12-06 17:00 UTC", "merchant bench --only commands", 2, (1, 1, 1), (1, 1, 1), "3.12", {})
    result = pair([metered_round(1000, OURS_CPU, machine=1.3)], [metered_round(1600, RAW_CPU, machine=1.0)])
    block = budget.section([result], facts.cores)
    text = report.section(facts, [result], [], 1, block)
    assert block is not None and text.index("| hot path | ours |") < text.index(block)
    assert "its 2 cores allow at most" in block and "| hot path | side | rate /s |" in block
    assert "What one operation costs" not in report.section(facts, [result], [], 1)


def test_the_meter_reads_the_process_under_test_the_servers_this_process_and_the_machine(monkeypatch):
    found = {FERRET: 11, PG: 12, "Redis": 13}  # Kafka not found; Redis is not on a command's path
    monkeypatch.setattr(budget, "server_pids", lambda env: found)
    under_test = budget.Watched(API, 10, "http://127.0.0.1:1/metrics")
    meter = budget.meter(under_test, {})
    assert [(w.name, w.pid) for w in meter.processes] == [(API, 10), (FERRET, 11), (PG, 12)]
    assert meter.harness == BENCH and meter.reaped_children is None
