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


def test_a_process_that_ended_between_the_readings_counts_no_negative_cpu_and_the_machine_is_differenced():
    before = Reading({}, {"gone": 4.0, "api": 1.0}, machine=100.0, at=10.0)
    after = Reading({}, {"gone": 0.0, "api": 3.0}, machine=130.0, at=20.0)
    work = Meter.between(before, after)
    assert work.machine_cpu == 30.0 and work.wall_seconds == 10.0
    assert work.cpu == {"gone": 0.0, "api": 2.0}
