from __future__ import annotations

from collections import Counter

from loadtests.ops import Meter, Reading, mongodb_operations

EXPOSITION = """# HELP mongodb_command_duration_seconds MongoDB command latency.
# TYPE mongodb_command_duration_seconds histogram
mongodb_command_duration_seconds_bucket{command="insert",le="0.001",outcome="ok"} 3.0
mongodb_command_duration_seconds_count{command="insert",outcome="ok"} 12.0
mongodb_command_duration_seconds_count{command="insert",outcome="error"} 2.0
mongodb_command_duration_seconds_count{command="update",outcome="ok"} 5.0
mongodb_command_duration_seconds_sum{command="update",outcome="ok"} 0.3
"""


def test_operations_are_counted_by_command_over_outcomes():
    assert mongodb_operations(EXPOSITION) == Counter({"insert": 14, "update": 5})


def test_work_is_the_difference_of_two_readings():
    before = Reading({"api": Counter({"insert": 10, "update": 5})}, {"api": 1.0})
    after = Reading({"api": Counter({"insert": 30, "update": 6, "find": 1})}, {"api": 3.5})
    work = Meter.between(before, after)
    assert work.operations == {"api": Counter({"insert": 20, "update": 1, "find": 1})}
    assert work.total_operations == 22 and work.per(11) == 2.0 and work.cpu == {"api": 2.5}


def test_load_summary_reports_operations_per_command_and_per_event():
    from loadtests.ops import Work, accepted_commands
    from loadtests.summary import work_figures

    work = Work(
        {"command-api": Counter({"insert": 30, "update": 5}), "workers": Counter({"insert": 4})}, {"workers": 1.5}
    )
    by_name = {"POST /v1/orders 202": 20, "POST /v1/orders 409": 3, "GET /v1/products 200": 100}
    figures = work_figures(work, accepted_commands(by_name), events=80)
    assert figures["accepted_commands"] == 20 and figures["command_api_ops_per_command"] == 1.75
    assert figures["workers_ops_per_event"] == 0.05
