"""The worker process: domain events → jobs → runners with the delivery policy.

``create_app`` is the FastStream app over a ``WorkerSide`` (``bootstrap``): its
subscribers (``subscribers``: dispatch, audit, analytics, one pair per job kind), the
activity subscriber, and the side's lifecycle around the broker's.

Offsets are committed after a message was handled (a job's outcome is published first),
so a crash redelivers and the job ids make that harmless. On SIGTERM the broker stops
fetching and gives in-flight jobs ``graceful_timeout_seconds`` to finish; a job still
running then is cancelled, releases its claim and is redelivered (handed back).
"""

from __future__ import annotations

from faststream import FastStream

from shared.observability.logs import library_logger
from shared.observability.stream import instrument_faststream
from shared.settings import WorkerSettings

from workers.entrypoints import activity, subscribers
from workers.entrypoints.bootstrap import WorkerSide, bootstrap


def create_app(settings: WorkerSettings | None = None, side: WorkerSide | None = None) -> FastStream:
    side = side or bootstrap(settings)
    subscribers.register(side)
    activity.register(side.broker, side.settings)  # per-event log line and business metrics (issue 7)
    app = FastStream(
        side.broker,
        logger=library_logger("workers"),
        on_startup=[side.open],
        after_startup=[side.start],
        on_shutdown=[side.stop],
        after_shutdown=[side.close],
    )
    return instrument_faststream(app, "workers")
