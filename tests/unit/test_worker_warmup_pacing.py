"""The warm-up's pacing (``workers.application.warmup``): each path at most once per
interval, the last change always followed by a warm-up, one waiter per path."""

from __future__ import annotations

import asyncio

import httpx

from workers.application.jobs import Job
from workers.application.warmup import PathPacer, warmup_handlers, warmup_job


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_path_warmed_within_the_interval_waits_for_its_end():
    clock = Clock()
    pacer = PathPacer(5.0, clock)
    assert pacer.split(["/a", "/b"]) == (["/a", "/b"], [], 0.0)
    clock.now += 2
    ready, later, wait = pacer.split(["/a", "/c"])
    assert (ready, later, wait) == (["/c"], ["/a"], 3.0)


def test_a_path_already_waited_for_is_left_to_its_waiter():
    clock = Clock()
    pacer = PathPacer(5.0, clock)
    pacer.split(["/a"])
    assert pacer.split(["/a"])[1] == ["/a"]  # the first job to ask again waits for it
    assert pacer.split(["/a"]) == ([], [], 0.0)  # later jobs leave it to that one
    clock.now += 10  # past the interval, but the waiter has not warmed it yet: still its
    assert pacer.split(["/a"]) == ([], [], 0.0)
    pacer.warmed("/a")
    clock.now += 5
    assert pacer.split(["/a"]) == (["/a"], [], 0.0)  # a full interval after its warm-up


def test_a_waiter_that_gave_up_lets_the_next_job_wait():
    clock = Clock()
    pacer = PathPacer(5.0, clock)
    pacer.split(["/a"])
    _, later, _ = pacer.split(["/a"])
    pacer.gave_up(later)
    assert pacer.split(["/a"])[1] == ["/a"]


def test_no_interval_warms_every_time():
    pacer = PathPacer(0.0, Clock())
    assert pacer.split(["/a"])[0] == ["/a"]
    assert pacer.split(["/a"])[0] == ["/a"]


class HotKeys:
    """What ``shared.warmup.hottest`` reads, as a Redis pipeline stub (unit test only)."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    def pipeline(self, transaction: bool = False):
        outer = self

        class Pipe:
            async def __aenter__(self):
                return self

            async def __aexit__(self, *exc):
                return False

            def zrevrange(self, *args, **kwargs):
                return self

            async def execute(self):
                return [[(p.encode(), 10.0 - i) for i, p in enumerate(outer.paths)]]

        return Pipe()


async def test_changes_within_the_interval_end_in_one_more_warm_up_of_each_path():
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(200)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://query")
    warm = warmup_handlers(HotKeys(["/hot"]), client, top_n=5, prefix="", min_interval=0.2)["warm"]  # type: ignore[arg-type]
    jobs: list[Job] = [warmup_job("catalog_products", "m1", n, ["p1"]) for n in range(5)]
    await warm(jobs[0])
    assert asked == ["/hot"]
    await asyncio.gather(*(warm(job) for job in jobs[1:]))  # four more changes at once
    assert asked == ["/hot", "/hot"]  # once now, once when the interval ended
