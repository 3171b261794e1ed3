"""One tenant's slow clients never stop another tenant's commands (issue #18).

64 connections with merchant A's key each send headers and then trickle their body a
byte at a time — what a slow-loris client, or a flaky mobile network, does. Without a
body deadline and a fair share of the command API's 64 slots, they hold every slot and
merchant B's command is shed (503) until they finish.

No clock decides the outcome. The test waits until every trickler is accounted for — shed
(503), or holding a slot by the command API's own ``http_requests_in_flight`` — and only
then sends B's command. What it asserts is an order of events: B's command was accepted
(202) *before* any trickler was cut off at the body deadline (408), i.e. while A's
tricklers still held their slots. A regression (B shed, or B waiting for a slot) cannot
pass that: a shed command is a 503, and a command that waits is admitted only once a
trickler's slot is freed, which is after that trickler's 408. A machine too loaded to
answer B within the body deadline (5 s) proves nothing either way: the attempt is run
again (up to ``ATTEMPTS``), then the test fails saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.commands import auth, create_product

pytestmark = pytest.mark.e2e

TRICKLERS = 64
SLOTS = 64  # COMMAND_API_MAX_CONCURRENT_REQUESTS, the stack's default
HELD = SLOTS // 2  # one tenant is shed once half the slots are taken (shared/http/load_shedding.py)
SETTLE_TIMEOUT = 30.0  # generous: CI shares two cores
ATTEMPTS = 3


@dataclass
class Answers:
    """What each trickler was answered, and when (monotonic), as they arrive."""

    statuses: list[int | None] = field(default_factory=list)
    cut_off_at: list[float] = field(default_factory=list)  # the 408s' arrival times

    def record(self, status: int | None) -> None:
        self.statuses.append(status)
        if status == 408:
            self.cut_off_at.append(time.monotonic())


async def _trickle(host: str, port: int, key: str, stop: asyncio.Event, answers: Answers) -> int | None:
    """Headers, then one byte of a 200-byte body every 0.3 s until answered; the status."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            (
                f"POST /v1/products HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
                "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"
            ).encode()
        )
        await writer.drain()
        answer = asyncio.ensure_future(reader.readline())
        while not stop.is_set():
            done, _ = await asyncio.wait({answer}, timeout=0.3)
            if done:
                status = int(answer.result().split()[1])
                answers.record(status)
                return status
            writer.write(b" ")
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        answer.cancel()
        return None
    finally:
        writer.close()


async def _in_flight(ops_url: str) -> float:
    """The command API's ``http_requests_in_flight`` (scraped on its ops listener, so the
    scrape itself is not counted)."""
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"{ops_url}/metrics")).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "http_requests_in_flight" and s.labels.get("service") == "command-api"
    )


async def _settled(ops_url: str, answers: Answers) -> float:
    """Wait until every trickler is answered or holds a slot; the slots held then."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        held = await _in_flight(ops_url)
        if held >= HELD and len(answers.statuses) + held >= TRICKLERS:
            return held
        if time.monotonic() > deadline:
            raise AssertionError(
                f"after {SETTLE_TIMEOUT:.0f} s the tricklers were not all accounted for: {held:.0f} slots "
                f"held, {len(answers.statuses)} answered {sorted(answers.statuses)} (expected {HELD} held, "
                f"the other {TRICKLERS - HELD} shed)"
            )
        await asyncio.sleep(0.05)


async def test_64_trickling_bodies_do_not_stop_another_merchants_command(
    stack, command_client, merchant, other_merchant
):
    product = await create_product(command_client, other_merchant)
    url = urlparse(stack.command_api.url)
    assert stack.command_api.ops_url, "the command API has no ops listener to read its in-flight count from"
    for attempt in range(1, ATTEMPTS + 1):
        answers, stop = Answers(), asyncio.Event()
        tricklers = [
            asyncio.create_task(_trickle(url.hostname, url.port, merchant["secret_key"], stop, answers))
            for _ in range(TRICKLERS)
        ]
        try:
            held = await _settled(stack.command_api.ops_url, answers)
            started = time.monotonic()
            answer = await command_client.post(
                f"/v1/products/{product}/price",
                json={"price": {"amount": 4321 + attempt, "currency": "EUR"}},
                headers=auth(other_merchant["secret_key"]),
            )
            answered = time.monotonic()
            assert answer.status_code == 202, f"with {held:.0f} slots held by merchant A: {answer.text}"
            statuses = await asyncio.wait_for(asyncio.gather(*tricklers), 30)  # the body deadline ends them
        finally:
            stop.set()
            await asyncio.gather(*tricklers, return_exceptions=True)

        # Every trickler was answered: shed at once beyond its tenant's share, or cut off at
        # the body deadline — none is left holding a slot.
        assert set(statuses) <= {408, 503} and 408 in statuses and 503 in statuses, statuses
        first_cut_off = min(answers.cut_off_at)
        if answered < first_cut_off:  # accepted while merchant A's tricklers held their slots
            print(
                f"\n{held:.0f} slots held; the command took {answered - started:.2f} s, "
                f"{first_cut_off - answered:.2f} s before the first 408"
            )
            return
        print(
            f"attempt {attempt}: the command took {answered - started:.2f} s and was answered "
            f"{answered - first_cut_off:.2f} s after the first trickler's 408: inconclusive, again"
        )
    raise AssertionError(
        f"in {ATTEMPTS} attempts the other merchant's command was never answered before the "
        "tricklers' body deadline freed a slot: either it waited for a slot (a regression) or the "
        "machine is too loaded to answer a command within the body deadline (5 s)"
    )
