"""The figures and the Markdown of ``merchant bench``, from made-up rounds (no servers,
no timing: what is checked is the arithmetic and the text)."""

from __future__ import annotations

import math

import pytest

from loadtests.bench import report
from loadtests.bench.rounds import Pair, PairResult, RoundResult, Side
from loadtests.bench.stats import Spread, iqr, median, paired_ratios, quantile, ratio


def test_median_of_odd_and_even_counts():
    assert median([5, 1, 3]) == 3
    assert median([4, 1, 3, 2]) == 2.5
    with pytest.raises(ValueError):
        median([])


def test_quantiles_interpolate_and_the_iqr_brackets_the_middle_half():
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert quantile(values, 0) == 1 and quantile(values, 1) == 9
    assert iqr(values) == (3, 7)
    assert quantile([10, 20], 0.5) == 15


def test_ratio_is_ours_over_baseline_and_never_divides_by_zero():
    assert ratio(50, 200) == 0.25
    assert math.isinf(ratio(1, 0))
    assert math.isnan(ratio(0, 0))


def test_paired_ratios_pair_rounds_that_ran_side_by_side():
    # round 2 ran on a machine twice as slow for both: its ratio is the same as round 1's
    spread = paired_ratios([100, 50, 90], [200, 100, 100])
    assert spread == Spread(median=0.5, low=0.5, high=0.9, n=3)
    with pytest.raises(ValueError):
        paired_ratios([1, 2], [1])


def test_markdown_table_escapes_pipes_in_cells():
    table = report.markdown_table(["a", "b"], [["x|y", "2"]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 2 |"]


def test_replace_section_appends_once_then_replaces_only_between_markers():
    document = "# Benchmarks\n\n## Someone else's section\n\nkept\n"
    first = report.replace_section(document, f"{report.START}\nFIRST-RUN\n{report.END}")
    assert first.startswith(document.rstrip("\n")) and first.count(report.START) == 1
    second = report.replace_section(first + "\n## After\n\nalso kept\n", f"{report.START}\nSECOND-RUN\n{report.END}")
    assert "FIRST-RUN" not in second and "SECOND-RUN" in second
    assert "kept" in second and "also kept" in second and second.count(report.END) == 1


def test_replace_section_refuses_unbalanced_markers():
    with pytest.raises(ValueError):
        report.replace_section(f"x\n{report.END}\ny\n{report.START}\n", "new")


def _result(ours_rates: list[float], baseline_rates: list[float]) -> PairResult:
    def rounds(rates: list[float], latency: float) -> list[RoundResult]:
        return [RoundResult(int(r), 1.0, [(0.0, latency * (i + 1)) for i in range(3)]) for r in rates]

    pair = Pair("cached page", "cache", "requests/s", Side("query API", None), Side("bare", None))
    return PairResult(pair, rounds(ours_rates, 0.002), rounds(baseline_rates, 0.001))


def test_a_row_gives_medians_with_their_range_and_the_paired_ratios():
    [row] = report.rows([_result([400, 600, 500], [1000, 1000, 1000])])
    assert row[:4] == ["cached page", "query API", "bare", "requests/s"]
    assert row[4] == "500 (400–600)" and row[5] == "1,000 (1,000–1,000)"
    assert row[6] == "**0.50 (0.40–0.60)**"
    assert row[7] == "4.00 (4.00–4.00)" and row[8] == "2.00 (2.00–2.00)"  # p50 of 2, 4, 6 ms
    assert row[9] == "**2.00 (2.00–2.00)**"
    assert row[10] == "5.80 (5.80–5.80)" and row[11] == "2.90 (2.90–2.90)"  # p95 of 2, 4, 6 ms


def test_small_ratios_keep_two_significant_digits():
    assert [report.number(v) for v in (0.0016, 0.000043, 0.42, 3.14159, 42.42, 12345.6, 0)] == [
        "0.0016",
        "0.000043",
        "0.42",
        "3.14",
        "42.4",
        "12,346",
        "0.00",
    ]
    assert report.number(float("inf")) == "—"


def test_errors_are_counted_by_kind_and_side():
    result = _result([10, 10], [20, 20])
    result.ours[0].failures.update({"503": 2, "409": 1})
    result.ours[1].failures.update({"503": 1})
    [row] = report.rows([result])
    assert row[12] == "ours 503×3, 409×1"
    assert result.ours[0].errors == 3


def test_the_section_names_the_command_the_machine_and_the_plots():
    facts = report.Facts(
        "2026-11-29 21:00 UTC",
        "merchant bench --only cache",
        2,
        (5.0, 4.0, 3.0),
        (6.0, 4.5, 3.1),
        "3.11.7",
        {"Redis": "7.0.15"},
    )
    text = report.section(facts, [_result([1], [2])], [("latency", "img/bench/latency.png")], 1)
    assert text.startswith(report.START) and text.endswith(report.END)
    assert "merchant bench --only cache" in text and "2 cores, load average 5.00/4.00/3.00" in text
    assert "Redis 7.0.15" in text and "![latency](img/bench/latency.png)" in text
    assert "| cached page | query API | bare |" in text


def test_work_columns_give_our_p99_and_the_work_per_operation_where_measured():
    result = _result([100, 200], [300, 300])
    result.ours[0].work = {"mongodb_ops": 150, "cpu_seconds": 0.2}  # 100 operations in the round
    result.ours[1].work = {"mongodb_ops": 200, "cpu_seconds": 0.2}  # 200
    [row] = report.rows([result])
    assert row[13] == "5.96 (5.96–5.96)"  # p99 of 2, 4, 6 ms
    assert row[14] == "1.25 (1.00–1.50)" and row[15] == "1.50 (1.00–2.00)"
    [unmeasured] = report.rows([_result([1], [2])])
    assert unmeasured[14:] == ["—", "—"]
