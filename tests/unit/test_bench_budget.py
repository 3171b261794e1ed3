"""The CPU budget of an operation by process (``loadtests.bench.budget``), from made-up meter
readings: CPU ms per operation, their sum, the machine's remainder and the ceiling they
imply — the arithmetic and the tables (one per group: the commands', the projectors'),
no servers and no timing."""

from __future__ import annotations

import pytest

from loadtests.bench import budget, commands, projectors, report
from loadtests.bench.rounds import Pair, PairResult, RoundResult, Side
from loadtests.ops import Meter, Reading

API, FERRET, PG, KAFKA, BENCH = budget.PROCESSES
HEADER = budget.header(commands.BUDGET)


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


def pair(ours: list[RoundResult], baseline: list[RoundResult], group: str = "commands") -> PairResult:
    p = Pair("adjust stock", group, "accepted/s", Side("command API", None), Side("raw loop", None))
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
    assert dict(zip(HEADER, ours_row, strict=True)) == {
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
    assert budget.section([unmetered], cores=2, subjects=[commands.BUDGET]) is None


def test_the_section_puts_the_budget_table_under_the_main_one():
    facts = report.Facts("2026-12-06 17:00 UTC", "merchant bench --only commands", 2, (1, 1, 1), (1, 1, 1), "3.12", {})
    result = pair([metered_round(1000, OURS_CPU, machine=1.3)], [metered_round(1600, RAW_CPU, machine=1.0)])
    block = budget.section([result], facts.cores, [commands.BUDGET])
    text = report.section(facts, [result], [], 1, block)
    assert block is not None and text.index("| hot path | ours |") < text.index(block)
    assert "its 2 cores allow at most" in block and "| hot path | side | rate /s |" in block
    assert "What one command costs" in block
    assert "What one command costs" not in report.section(facts, [result], [], 1)


def test_the_meter_reads_the_process_under_test_the_servers_this_process_and_the_machine(monkeypatch):
    found = {FERRET: 11, PG: 12, "Redis": 13}  # Kafka not found; Redis is not on a command's path
    monkeypatch.setattr(budget, "server_pids", lambda env: found)
    meter = budget.meter(10, {}, "http://127.0.0.1:1/metrics")
    assert [(w.name, w.pid) for w in meter.processes] == [(API, 10), (FERRET, 11), (PG, 12)]
    assert meter.processes[0].metrics_url == "http://127.0.0.1:1/metrics"
    assert meter.harness == BENCH and meter.reaped_children is None
    # a projector is paused at the readings: its CPU only, no /metrics to scrape
    assert budget.meter(20, {}).processes[0] == budget.Watched(API, 20, None)


def test_the_projectors_table_names_the_projector_and_counts_per_event_under_its_own_paragraph():
    header = budget.header(projectors.BUDGET)
    assert header[3:8] == [
        "projector process CPU ms/event",
        "FerretDB CPU ms/event",
        "PostgreSQL CPU ms/event",
        "Kafka CPU ms/event",
        "bench process (waiting / raw loop) CPU ms/event",
    ]
    assert header[8:11] == ["sum ms/event", "machine ms/event", "not attributed ms/event"]
    assert header[11:] == HEADER[11:] and HEADER[3] == "command API (+ relay) CPU ms/op"


def test_each_group_gets_its_own_table_of_its_own_pairs_in_the_subjects_order():
    command = pair([metered_round(1000, OURS_CPU, machine=1.3)], [metered_round(1600, RAW_CPU, machine=1.0)])
    projector = pair(
        [metered_round(2000, OURS_CPU, machine=1.3)], [metered_round(8000, RAW_CPU, machine=1.0)], "projectors"
    )
    text = budget.section([command, projector], 2, [commands.BUDGET, projectors.BUDGET])
    assert text is not None
    commands_part, projectors_part = text.split("**What one event costs")
    assert "**What one command costs" in commands_part and "| command API (+ relay) CPU ms/op |" in commands_part
    assert "| projector process CPU ms/event |" in projectors_part and "events per second" in projectors_part
    # each table holds its own group's pairs only: the projector's 2,000/s is not under the commands
    assert "2,000" not in commands_part and "| adjust stock | ours | 2,000 |" in projectors_part
    # a group run without its subject, or a subject whose group did not run: no table
    assert budget.section([projector], 2, [commands.BUDGET]) is None
    assert budget.section([command], 2, [commands.BUDGET, projectors.BUDGET]).count("| hot path |") == 1


async def test_a_metered_round_reads_before_and_after_and_our_side_keeps_its_own_operation_count():
    readings = iter([reading({API: 10.0, BENCH: 1.0}, 100.0, 0.0), reading({API: 10.5, BENCH: 1.25}, 101.0, 1.0)])

    class Meter:
        def read(self):
            return next(readings)

    async def round_(_: int) -> RoundResult:
        result = RoundResult(1000, 1.0)
        result.work = {"mongodb_ops": 3000.0}  # counted by the round itself (a projector's scrape)
        return result

    result = await budget.metered(round_, Meter(), counts=True)(0)
    assert result.usage.cpu == {API: 0.5, BENCH: 0.25} and result.usage.machine_cpu == 1.0
    assert result.work == {"mongodb_ops": 3000.0, "cpu_seconds": 0.5}
