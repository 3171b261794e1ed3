"""A day's product names over its counters, worked out per product when asked
(``derived.StoredNames``): the same answers as converting every stored name (the way
before), ties to the earlier counter, absent products absent."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from projectors.application.derived import StoredNames
from projectors.domain.contributions import Latest, latest_of


def stored(names: dict[str, tuple[datetime, str, str]]) -> dict:
    return {"names": {p: {"name": n, "placed_at": at, "order_id": o} for p, (at, o, n) in names.items()}}


def every_name_converted(counters: list[dict]) -> dict[str, Latest]:
    return latest_of(
        {p: Latest(v["placed_at"], v["order_id"], v["name"]) for p, v in (c.get("names") or {}).items()}
        for c in counters
    )


def test_each_product_gets_its_latest_name_over_the_counters():
    rnd = random.Random(7)
    day = datetime(2026, 12, 7)
    for _ in range(200):
        counters = [
            stored(
                {
                    f"p{rnd.randrange(8)}": (day + timedelta(minutes=rnd.randrange(4)), f"o{rnd.randrange(3)}", f"n{i}")
                    for i in range(rnd.randrange(6))
                }
            )
            for _ in range(rnd.randrange(1, 4))
        ] + [{"counts": {}}]  # a counter that names nothing
        expected = every_name_converted(counters)
        names = StoredNames(counters)
        assert dict(names) == expected
        assert len(names) == len(expected) and set(names) == set(expected)
        for product in ("p0", "p7", "absent"):
            assert (product in names) is (product in expected)
            assert names.get(product) == expected.get(product)


def test_a_tie_goes_to_the_earlier_counter():
    at = datetime(2026, 12, 7, 10)
    names = StoredNames([stored({"p": (at, "o1", "first")}), stored({"p": (at, "o1", "second")})])
    assert names["p"].value == "first"
