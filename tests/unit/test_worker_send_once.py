"""Send-once with a claim that outlives the send: a late answer is heard and marked, so
the retry skips the job; a send with no answer by the end of its lease, or abandoned at
shutdown, gives its claim back."""

from __future__ import annotations

import asyncio

import pytest

from shared.events import utc_now

from workers.application.policy import Busy
from workers.application.ports import Claim
from workers.application.send_once import Sends


class Records:
    """In-memory send-once records (the protocol of ``workers.adapters.dedupe``)."""

    def __init__(self) -> None:
        self.state: dict[str, str] = {}
        self.log: list[str] = []

    async def claim(self, job_id: str, kind: str) -> Claim:
        if self.state.get(job_id) == "sent":
            return Claim.ALREADY_SENT
        if self.state.get(job_id) == "claimed":
            raise Busy(utc_now())
        self.state[job_id] = "claimed"
        return Claim.CLAIMED

    async def mark_sent(self, job_id: str) -> None:
        self.state[job_id] = "sent"
        self.log.append("sent")

    async def release(self, job_id: str) -> None:
        self.state.pop(job_id, None)
        self.log.append("released")


class SlowProvider:
    """Answers ``delay`` seconds after the send began (or fails then)."""

    def __init__(self, delay: float, fail: bool = False) -> None:
        self.delay, self.fail, self.delivered = delay, fail, 0

    async def send(self) -> None:
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("dropped")
        self.delivered += 1


async def _attempt(sends: Sends, provider: SlowProvider, limit: float) -> str:
    """One attempt under a time limit, as the Runner runs it."""
    try:
        sent = await asyncio.wait_for(sends.once("job-1", "email", provider.send), limit)
    except TimeoutError:
        return "timed out"
    except Busy:
        return "busy"
    return "sent" if sent else "skipped"


async def test_an_answer_after_the_time_limit_is_marked_and_the_retry_sends_nothing():
    records, provider = Records(), SlowProvider(delay=0.3)
    sends = Sends(records, lease=2.0)
    assert await _attempt(sends, provider, limit=0.1) == "timed out"
    assert await _attempt(sends, provider, limit=0.1) == "busy"  # the claim still holds
    await asyncio.sleep(0.4)  # the late answer came
    assert records.state["job-1"] == "sent"
    assert await _attempt(sends, provider, limit=0.1) == "skipped"
    assert provider.delivered == 1


async def test_no_answer_before_the_lease_ends_gives_the_claim_back():
    records, provider = Records(), SlowProvider(delay=5.0)
    sends = Sends(records, lease=0.5)  # given up 0.1 s before the lease ends
    assert await _attempt(sends, provider, limit=0.1) == "timed out"
    await asyncio.sleep(0.5)
    assert records.log == ["released"] and "job-1" not in records.state
    assert not sends.pending


async def test_a_refusal_after_the_time_limit_gives_the_claim_back():
    records = Records()
    sends = Sends(records, lease=2.0)
    assert await _attempt(sends, SlowProvider(delay=0.2, fail=True), limit=0.1) == "timed out"
    await asyncio.sleep(0.3)
    assert records.log == ["released"]


async def test_a_failure_within_the_time_limit_gives_the_claim_back_at_once():
    records = Records()
    sends = Sends(records, lease=2.0)
    with pytest.raises(ConnectionError):
        await sends.once("job-1", "email", SlowProvider(delay=0, fail=True).send)
    assert records.log == ["released"] and not sends.pending


async def test_close_gives_waiting_sends_their_grace_then_releases_them():
    records = Records()
    sends = Sends(records, lease=60.0)
    assert await _attempt(sends, SlowProvider(delay=0.1), limit=0.01) == "timed out"
    assert await _attempt_other(sends, SlowProvider(delay=30), limit=0.01) == "timed out"
    await sends.close(grace=0.3)
    assert records.state == {"job-1": "sent"}  # answered within the grace; job-2 released
    assert sorted(records.log) == ["released", "sent"]


async def _attempt_other(sends: Sends, provider: SlowProvider, limit: float) -> str:
    try:
        await asyncio.wait_for(sends.once("job-2", "email", provider.send), limit)
    except TimeoutError:
        return "timed out"
    return "sent"
