"""The load scenarios' shapes and the summary's arithmetic (knee, RSS slope, cache ratio)."""

from __future__ import annotations

import pytest

from loadtests.scenarios import SCENARIOS, Ramp, Scenario, Step, steps_of, users_for
from loadtests.summary import cache_figures, knee, rss_figures


def test_a_ramp_moves_linearly_from_the_previous_rate_and_a_step_jumps():
    s = Scenario("x", "", (Ramp(10, 100), Step(5, 500), Step(5, 100)))
    assert s.rate_at(0) == 0 and s.rate_at(5) == pytest.approx(50)
    assert s.rate_at(10) == 500 and s.rate_at(14.9) == 500
    assert s.rate_at(15) == 100
    assert s.rate_at(20) is None
    assert s.seconds == 20 and s.peak == 500


def test_scaling_stretches_time_and_rate():
    s = SCENARIOS["spike"].scaled(seconds=90, rate=250)
    assert s.seconds == pytest.approx(90)
    assert s.peak == pytest.approx(250)


def test_the_scenarios_offer_what_the_issue_asks():
    assert SCENARIOS["basic"].peak == 100
    assert SCENARIOS["spike"].peak == 500
    assert SCENARIOS["stress"].peak == 1000
    endurance = SCENARIOS["endurance"]
    assert endurance.seconds == 1800 and endurance.rate_at(1000) == 200
    assert [rate for _, _, rate in steps_of(SCENARIOS["stress"])] == list(range(100, 1001, 100))
    assert users_for(500) == 250


def _step(rate, p95, error_rate=0.0):
    return {"offered_rps": rate, "p95_ms": p95, "error_rate": error_rate}


def test_the_knee_is_the_first_step_over_200_ms_p95_or_over_a_tenth_of_a_percent_errors():
    steps = [_step(100, 10), _step(200, 200), _step(300, 201), _step(400, 20)]
    assert knee(steps) == {"knee_rps": 300, "highest_passing_rps": 200}
    assert knee([_step(100, 10, 0.001), _step(200, 40, 0.0011)]) == {"knee_rps": 200, "highest_passing_rps": 100}
    assert knee([_step(100, 250)]) == {"knee_rps": 100, "highest_passing_rps": None}
    assert knee([_step(100, 10), _step(200, None, None)])["knee_rps"] == 200  # a step with no requests fails
    assert knee([_step(100, 10), _step(200, 20)]) == {"knee_rps": None, "highest_passing_rps": 200}


def test_rss_slope_is_fitted_after_the_warm_up():
    mb = 2**20
    # 100 MB for the first minute (start-up growth ignored), then +1 MB per minute.
    rss = [{"t": t, "api": (50 if t < 60 else 100 + (t - 60) / 60) * mb} for t in range(0, 600, 10)]
    fig = rss_figures(rss, warm_up=60)["api"]
    assert fig["slope_mb_per_hour"] == pytest.approx(60, rel=0.01)
    assert fig["start_mb"] == 50 and fig["max_mb"] == pytest.approx(108.8, abs=0.2)


def test_cache_hit_ratio_counts_only_the_run():
    before = {"l1_hits": 10, "l1_misses": 10, "l2_hits": 0, "l3_loads": 10}
    after = {"l1_hits": 100, "l1_misses": 20, "l2_hits": 5, "l3_loads": 15}
    assert cache_figures([before, after])["hit_ratio"] == pytest.approx((100 - 5) / 100)


def test_cache_hit_ratio_counts_shed_reads_as_misses():
    before = {"l1_hits": 0, "l1_misses": 0, "l2_hits": 0, "l3_loads": 0, "shed": 0}
    after = {"l1_hits": 90, "l1_misses": 10, "l2_hits": 5, "l3_loads": 5, "shed": 100}
    figures = cache_figures([before, after])
    assert figures["lookups"] == 200 and figures["shed"] == 100
    assert figures["hit_ratio"] == pytest.approx((200 - 5 - 100) / 200)  # not 95 %


def test_stale_answers_are_hits_given_apart():
    before = {"l1_hits": 0, "l1_misses": 0, "l2_hits": 0, "l3_loads": 0, "stale_served": 0, "background_reloads": 0}
    after = {"l1_hits": 90, "l1_misses": 10, "l2_hits": 0, "l3_loads": 2, "stale_served": 6, "background_reloads": 2}
    figures = cache_figures([before, after])
    assert figures["hit_ratio"] == pytest.approx(0.98)  # the 2 reloads are the loads
    assert figures["stale_ratio"] == pytest.approx(0.06)
    assert (figures["stale_served"], figures["background_reloads"]) == (6, 2)


def test_the_loads_are_broken_down_by_cause_and_kind_over_the_run_only():
    base = {"l1_hits": 0, "l1_misses": 0, "l2_hits": 0, "l3_loads": 0}
    before = {**base, "loads_by_cause": {"cold": 4}, "loads_by_kind": {"product": 4}}
    after = {
        **base,
        "l3_loads": 10,
        "loads_by_cause": {"cold": 5, "invalidated": 6, "expired": 3},
        "loads_by_kind": {"product": 8, "list": 6},
    }
    figures = cache_figures([before, after])
    assert list(figures["loads_by_cause"].items()) == [("invalidated", 6), ("expired", 3), ("cold", 1)]
    assert figures["loads_by_kind"] == {"list": 6, "product": 4}
    assert cache_figures([base, base])["loads_by_cause"] == {}  # an older query API: no breakdown


def test_a_merchant_seed_out_file_is_read_as_load_data(tmp_path):
    from loadtests.dataset import load

    seed_out = {
        "run": {"prefix": "p"},
        "merchants": [
            {
                "merchant_id": "m1",
                "name": "Shop",
                "currency": "USD",
                "secret_key": "sk_1",
                "publishable_key": "pk_1",
                "product_ids": ["a", "b"],
                "products": 120,
                "orders": 40,
            }
        ],
    }
    path = tmp_path / "seed.json"
    path.write_text(__import__("json").dumps(seed_out))
    [m] = load(path)["merchants"]
    assert m == {
        "merchant_id": "m1",
        "secret_key": "sk_1",
        "publishable_key": "pk_1",
        "currency": "USD",
        "categories": [],
        "product_ids": ["a", "b"],
    }


def test_poisson_arrivals_draw_each_departure_after_the_previous_one_never_in_the_past():
    from loadtests.scenarios import poisson_arrivals

    now = [10.0]
    draws = iter([0.3, 0.4, 0.1, 0.2])
    wait = poisson_arrivals(2.0, clock=lambda: now[0], draw=lambda rate: next(draws))

    class User:
        pass

    user = User()
    assert abs(wait(user) - 0.3) < 1e-9  # the first departure: one interval from now
    now[0] = 10.3
    assert abs(wait(user) - 0.4) < 1e-9  # the next: an interval after the previous departure
    now[0] = 11.5  # the generator stalled past the departure due at 10.8 (+ 0.1 = 10.8)
    assert wait(user) == 0.0  # an overdue departure leaves now...
    assert abs(wait(user) - 0.2) < 1e-9  # ...and the next is drawn from now, no catch-up burst


def test_poisson_arrivals_offer_the_rate_with_random_phases():
    import random

    from loadtests.scenarios import poisson_arrivals

    rng = random.Random(7)
    now = [0.0]
    wait = poisson_arrivals(2.0, clock=lambda: now[0], draw=rng.expovariate)

    class User:
        pass

    user, departures = User(), []
    while now[0] < 1000:
        now[0] += wait(user)
        departures.append(now[0])
    assert 1900 < len(departures) < 2100  # 2 per second
    phases = [d % 0.5 for d in departures]
    assert max(sum(1 for p in phases if i * 0.05 <= p < (i + 1) * 0.05) for i in range(10)) < 0.15 * len(phases)
