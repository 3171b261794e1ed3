"""Running a side effect (an email, an SMS) once per job, through the send-once records
of ``ports.SendOnceStore``: claim, send, mark sent — or give the claim back when the send
failed, so a retry can claim it again. The records, and what a crash leaves, are
described in ``workers.adapters.dedupe``.

**The claim outlives the send.** A claim is held for ``lease`` seconds, longer than an
attempt may run (``WorkerSettings`` refuses a lease that is not). An attempt that ends
before the provider answered — its time limit passed, or the worker is stopping — does
not abandon the send: the send keeps waiting for the answer in the background
(``Sends.pending``) until shortly before the lease ends. An answer that comes late marks
the job sent, so the retry, which finds the claim held and comes back when it ends,
skips it: **a slow provider never makes us send twice.** An answer that does not come by
then, or a refusal, gives the claim back, and the job is sent again — with the same
Message-ID (email) or message id (SMS), so a receiver can drop it if the first did land
after all. A worker being stopped gives these sends its grace period, then releases
their claims (``close``), so the next worker takes them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from workers.application.ports import Claim, SendOnceStore

log = logging.getLogger(__name__)

Send = Callable[[], Awaitable[None]]


def lease_margin(lease: float) -> float:
    """How long before its lease ends a late send is given up: time to mark or release it."""
    return min(5.0, lease / 5)


class Sends:
    def __init__(self, records: SendOnceStore, lease: float) -> None:
        self.records, self.lease = records, lease
        self.pending: set[asyncio.Task[None]] = set()  # sends waiting for a late answer

    async def once(self, job_id: str, kind: str, send: Send) -> bool:
        """Run ``send()`` unless this job was already sent; returns whether it sent now.
        Raises what the send raised (the claim given back first), ``Busy`` while another
        worker holds the claim."""
        if await self.records.claim(job_id, kind) is Claim.ALREADY_SENT:
            return False
        give_up_at = asyncio.get_running_loop().time() + self.lease - lease_margin(self.lease)
        sending = asyncio.ensure_future(send())
        try:
            await asyncio.shield(sending)
        except asyncio.CancelledError:  # the attempt ended (time limit, shutdown), the send may not have
            if sending.done() and (sending.cancelled() or sending.exception() is not None):
                await self.records.release(job_id)
            else:
                self._later(job_id, sending, give_up_at)  # its answer may still come (or came: mark it)
            raise
        except BaseException:
            await self.records.release(job_id)  # refused or failed: nothing was delivered
            raise
        await self.records.mark_sent(job_id)
        return True

    def _later(self, job_id: str, sending: asyncio.Future[None], give_up_at: float) -> None:
        task = asyncio.create_task(self._await_answer(job_id, sending, give_up_at), name=f"late-send-{job_id}")
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _await_answer(self, job_id: str, sending: asyncio.Future[None], give_up_at: float) -> None:
        try:
            async with asyncio.timeout_at(give_up_at):
                await sending
        except BaseException as exc:  # refused, no answer in time, or abandoned at shutdown
            sending.cancel()
            log.warning("send of job %s got no answer in time (%s): its claim is given back", job_id, exc or "late")
            await self.records.release(job_id)
            return
        log.info("send of job %s answered after its attempt ended: marked sent", job_id)
        await self.records.mark_sent(job_id)

    async def close(self, grace: float) -> None:
        """Shutdown: sends still waiting for an answer get ``grace`` seconds, then their
        claims are given back (the next worker sends them at once)."""
        if self.pending:
            await asyncio.wait(list(self.pending), timeout=grace)
        for task in self.pending:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self.pending, return_exceptions=True)
