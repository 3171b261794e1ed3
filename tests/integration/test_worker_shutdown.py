"""Email sends against slow SMTP servers, and a worker replaced in the middle of a backlog
(issue #18): a late answer is never followed by a second send; a worker stopped with
SIGTERM hands nothing back to be fetched again and leaves no claim behind."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import pytest

from tests.support.smtp import smtp_server
from tests.support.workers import order_placed, produce, queue_idle, wait_until, worker, worker_settings

pytestmark = pytest.mark.integration


class SlowToAnswer:
    """Takes ``delay`` seconds to answer the end of DATA, then accepts (even if the client
    gave up meanwhile: what a real server that is slow to reply does)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.accepted: list[tuple[str, float]] = []

    async def handle_DATA(self, server, session, envelope):
        await asyncio.shield(self._accept(envelope))  # a client hanging up does not stop it
        return "250 Message accepted for delivery"

    async def _accept(self, envelope) -> None:
        await asyncio.sleep(self.delay)
        self.accepted += [(rcpt, time.monotonic()) for rcpt in envelope.rcpt_tos]

    def count(self, to: str) -> int:
        return sum(1 for rcpt, _ in self.accepted if rcpt == to)


async def test_an_smtp_server_that_answers_after_the_time_limit_receives_one_message(
    server_env, settings, mongo_db, tmp_path
):
    to = f"late-{uuid.uuid4().hex[:8]}@example.com"
    handler = SlowToAnswer(delay=2.5)  # the attempt's limit is 1 s; the claim lasts 10 s
    async with smtp_server(handler) as url:
        service = worker(
            server_env,
            tmp_path,
            "workers-late",
            SMTP_URL=url,
            WORKER_EMAIL_TIMEOUT_SECONDS="1",
            WORKER_CLAIM_LEASE_SECONDS="10",
        )
        await asyncio.to_thread(lambda: service.start().wait_ready())
        try:
            await produce(settings, [order_placed("m-late", to)])
            await wait_until(lambda: asyncio.sleep(0, handler.count(to)), timeout=30, what="the first message")

            async def marked_or_sent_again():
                if handler.count(to) > 1:
                    return "sent again"
                return await mongo_db["job_runs"].find_one({"kind": "email", "state": "sent", "claims": 1})

            await wait_until(marked_or_sent_again, timeout=15, what="the late answer marked sent")
            assert handler.count(to) == 1, "a retry sent the message again"
            # The retry of the timed-out attempt comes back when the claim ends, finds it sent.
            await wait_until(
                lambda: queue_idle(worker_settings(server_env), mongo_db, ("email",)),
                timeout=30,
                what="email queue idle",
            )
        finally:
            await asyncio.to_thread(service.stop)
    assert handler.count(to) == 1


async def test_a_worker_stopped_in_a_backlog_hands_nothing_back_and_its_replacement_keeps_up(
    server_env, settings, mongo_db, tmp_path
):
    run = uuid.uuid4().hex[:8]
    backlog = [f"backlog-{run}-{i}@example.com" for i in range(40)]
    handler = SlowToAnswer(delay=0.1)
    async with smtp_server(handler) as url:
        first = worker(server_env, tmp_path, "workers-old", SMTP_URL=url)
        await asyncio.to_thread(lambda: first.start().wait_ready())
        await produce(settings, [order_placed("m-backlog", to) for to in backlog])
        await wait_until(lambda: asyncio.sleep(0, len(handler.accepted) >= 10), timeout=60, what="10 sent")
        await asyncio.to_thread(first.stop)  # SIGTERM in the middle of the backlog
        assert first.process.returncode == 0, first.tail()
        assert await mongo_db["job_runs"].count_documents({"kind": "email", "state": "claimed"}) == 0

        second = worker(server_env, tmp_path, "workers-new", SMTP_URL=url)
        await asyncio.to_thread(lambda: second.start().wait_ready())
        try:
            delivered = lambda: asyncio.sleep(0, set(backlog) <= {rcpt for rcpt, _ in handler.accepted})  # noqa: E731
            await wait_until(delivered, timeout=120, what="the backlog")
            drained = max(at for rcpt, at in handler.accepted if rcpt in backlog)
            fresh = f"fresh-{run}@example.com"
            await produce(settings, [order_placed("m-backlog", fresh)])
            await wait_until(lambda: asyncio.sleep(0, handler.count(fresh)), timeout=30, what="the new order's email")
            arrived = next(at for rcpt, at in handler.accepted if rcpt == fresh)
        finally:
            await asyncio.to_thread(second.stop)

    assert arrived - drained < 5.0, f"the new order's confirmation came {arrived - drained:.1f} s after the backlog"
    assert Counter(rcpt for rcpt, _ in handler.accepted if rcpt in backlog) == Counter(backlog)  # once each
    for service in (first, second):
        handed_back = service.log_path.read_text().count("HandedBack")
        assert handed_back == 0, f"{service.name} handed {handed_back} job(s) back"
