"""Running a side effect (an email, an SMS) at most once per job, through the send-once
records of ``ports.SendOnceStore``: claim, send, mark sent — or give the claim back when
the send failed, so a retry can claim it again. The records, and what a crash between
the send and the mark leaves, are described in ``workers.adapters.dedupe``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from workers.application.ports import Claim, SendOnceStore


async def send_once(dedupe: SendOnceStore, job_id: str, kind: str, send: Callable[[], Awaitable[None]]) -> bool:
    """Run ``send()`` unless this job was already sent; returns whether it sent now."""
    if await dedupe.claim(job_id, kind) is Claim.ALREADY_SENT:
        return False
    try:
        await send()
    except BaseException:
        # Failed, timed out or cancelled (shutdown): hand the job back for a retry.
        await dedupe.release(job_id)
        raise
    await dedupe.mark_sent(job_id)
    return True
