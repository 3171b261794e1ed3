"""Send-once records: a job with a side effect (an email, an SMS) runs at most once.

Protocol (``job_runs``, one document per job id):

1. ``claim`` inserts ``{_id: job_id, state: "claimed", lease_until}`` *before* sending.
   The unique ``_id`` means one claimant wins. A job already ``sent`` is skipped; a job
   claimed by a live worker raises ``Busy`` (re-checked later through the retry topic,
   the partition is not held).
2. ``mark_sent`` after the provider accepted the message.
3. ``release`` when the send failed *before* the provider accepted it, so the retry can
   claim again.

The lease is longer than a send may take: a send whose attempt timed out still waits
for its answer while the claim holds (``workers.application.send_once``).

The crash window: a worker killed after the provider accepted the message but before
``mark_sent`` landed leaves a claim that expires after ``lease`` seconds; the job is
then sent again. That window is one round trip to MongoDB wide, so a crash can cause at
most one duplicate per in-flight job, and it carries the same Message-ID (derived from
the job id) so mail clients can recognise it. A crash anywhere else causes no duplicate
and loses nothing (see docs/workers.md).
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.events import utc_now
from shared.mongo import Database

from workers.application.policy import Busy
from workers.application.ports import Claim

JOB_RUNS = "job_runs"


class SendOnce:
    """The MongoDB send-once records (``workers.application.ports.SendOnceStore``); the
    handlers drive them through ``workers.application.send_once``."""

    def __init__(self, db: Database, lease: float) -> None:
        self.runs = db[JOB_RUNS]
        self.lease = timedelta(seconds=lease)
        self.owner = f"{socket.gethostname()}:{os.getpid()}"

    async def claim(self, job_id: str, kind: str) -> Claim:
        now = utc_now()
        try:
            await self.runs.insert_one(
                {
                    "_id": job_id,
                    "kind": kind,
                    "state": "claimed",
                    "owner": self.owner,
                    "claimed_at": now,
                    "lease_until": now + self.lease,
                    "claims": 1,
                }
            )
            return Claim.CLAIMED
        except DuplicateKeyError:
            pass
        # Take over a claim whose holder died (its lease ran out without a mark).
        taken = await self.runs.find_one_and_update(
            {"_id": job_id, "state": "claimed", "lease_until": {"$lt": now}},
            {"$set": {"owner": self.owner, "claimed_at": now, "lease_until": now + self.lease}, "$inc": {"claims": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if taken is not None:
            return Claim.CLAIMED
        current = await self.runs.find_one({"_id": job_id})
        if current is None:  # released between our two reads: try again from the start
            return await self.claim(job_id, kind)
        if current["state"] == "sent":
            return Claim.ALREADY_SENT
        raise Busy(current["lease_until"])

    async def mark_sent(self, job_id: str) -> None:
        await self.runs.update_one({"_id": job_id}, {"$set": {"state": "sent", "sent_at": utc_now()}})

    async def release(self, job_id: str) -> None:
        """Give the claim back (the send failed before the provider accepted it)."""
        await self.runs.delete_one({"_id": job_id, "state": "claimed", "owner": self.owner})
