"""The worker process: domain events → jobs → runners with the delivery policy.

Subscribers (consumer groups ``<group_prefix>.<name>``):

- ``dispatch``        orders/reports events → email, SMS and report jobs on ``jobs.<kind>``;
- ``audit.events``    every domain event → an audit entry (retries via ``jobs.audit.*``);
- ``analytics.events`` order events → analytics facts (retries via ``jobs.analytics.*``);
- ``<kind>``          ``jobs.<kind>`` → ``Runner.run`` (timeout, retry topic, dead letters);
- ``<kind>.retry``    ``jobs.<kind>.retry`` → back to ``jobs.<kind>`` once due.

Offsets are committed after a message was handled (a job's outcome is published first),
so a crash redelivers and the job ids make that harmless. On SIGTERM the broker stops
fetching and gives in-flight jobs ``graceful_timeout_seconds`` to finish; a job still
running then is cancelled, releases its claim and is redelivered (handed back).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from shared import kafka, mongo
from shared import redis as redis_factory
from shared.events import EventEnvelope, decode_data
from shared.observability.stream import instrument_faststream
from shared.settings import WorkerSettings
from shared.topics import DOMAIN_TOPICS, ORDERS, REPORTS

from workers.adapters import dedupe, report_store
from workers.adapters.sms_providers import provider_for
from workers.adapters.smtp import SmtpSender
from workers.application import analytics, audit, warmup
from workers.application.dispatch import DISPATCHED, Contacts, dispatch
from workers.application.email.handlers import email_handlers
from workers.application.jobs import JOB_TOPIC_PARTITIONS, Job, all_job_topics, job_topic, retry_topic
from workers.application.policy import Runner, policies, relay_when_due
from workers.application.reports.handlers import record_requested, report_handlers
from workers.application.sms.handlers import sms_handlers
from workers.entrypoints import activity
from workers.entrypoints.ops_server import OpsServer, heartbeat

log = logging.getLogger(__name__)

RUN_KINDS = ("email", "sms", "reports", "analytics", "audit", "warmup")


def create_app(settings: WorkerSettings | None = None) -> FastStream:
    settings = settings or WorkerSettings()
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        logger=log,
        acks="all",
        enable_idempotence=True,
        graceful_timeout=settings.graceful_timeout_seconds,
    )
    state: dict[str, Any] = {"runners": {}, "tasks": []}
    closing = asyncio.Event()  # set at shutdown: retry relays stop waiting
    rules = policies(settings)

    async def publish(topic: str, job: Job) -> None:
        await broker.publish(job.to_json(), topic, key=job.key.encode(), headers=job.headers())

    def group(name: str) -> str:
        return f"{settings.group_prefix}.{name}"

    def subscribe(topics: tuple[str, ...], name: str, **options):
        return broker.subscriber(
            *topics, group_id=group(name), auto_offset_reset="earliest", ack_policy=AckPolicy.NACK_ON_ERROR, **options
        )

    # -- domain events ----------------------------------------------------------------
    @subscribe((settings.topic(ORDERS), settings.topic(REPORTS)), "dispatch")
    async def dispatch_jobs(body: Any, msg: KafkaMessage) -> None:
        event = _decode(msg)
        if event is None or event.type not in DISPATCHED:
            return
        try:
            decode_data(event)
        except ValueError as exc:  # a body that breaks its contract can never make a job
            log.error("skipping %s %s: invalid body: %s", event.type, event.event_id, exc)
            return
        for job in await dispatch(event, state["contacts"]):
            if job.kind == "reports":
                await record_requested(state["db"], job)
            await publish(job_topic(settings, job.kind), job)

    @subscribe(tuple(settings.topic(t) for t in DOMAIN_TOPICS), "audit.events")
    async def audit_events(body: Any, msg: KafkaMessage) -> None:
        if (event := _decode(msg)) is not None:
            await state["runners"]["audit"].run(audit.audit_job(event))

    @subscribe((settings.topic(ORDERS),), "analytics.events")
    async def analytics_events(body: Any, msg: KafkaMessage) -> None:
        if (event := _decode(msg)) is not None and (job := analytics.analytics_job(event)):
            await state["runners"]["analytics"].run(job)

    # -- jobs and their retries, one pair of subscribers per kind ------------------------
    def subscribe_kind(kind: str) -> None:
        poll = int(rules[kind].timeout * 1000) + 60_000  # a long job must not lose its partitions

        @subscribe((job_topic(settings, kind),), kind, max_poll_interval_ms=max(poll, 300_000))
        async def run_job(body: Any, msg: KafkaMessage) -> None:
            if (job := _decode_job(msg)) is not None:
                await state["runners"][kind].run(job)

        @subscribe((retry_topic(settings, kind),), f"{kind}.retry", max_poll_interval_ms=600_000)
        async def relay_retry(body: Any, msg: KafkaMessage) -> None:
            if (job := _decode_job(msg)) is not None:
                await relay_when_due(job, publish, settings, closing=closing)

    for kind in RUN_KINDS:
        subscribe_kind(kind)

    # -- lifecycle ----------------------------------------------------------------------
    async def open_resources() -> None:
        await kafka.ensure_topics(settings)  # the domain topics we read (idempotent)
        await kafka.ensure_topics(settings, all_job_topics(settings), partitions=JOB_TOPIC_PARTITIONS)
        client = state["client"] = mongo.open_mongo(settings)
        db = state["db"] = mongo.database(client, settings)
        await audit.create_indexes(db)
        await report_store.create_indexes(db)
        state["contacts"] = Contacts(db)
        sends = dedupe.SendOnce(db, lease=settings.claim_lease_seconds)
        state["sms"] = provider_for(settings.sms_sink)
        state["redis"] = redis_factory.open_redis(settings, socket_timeout=None)  # pub/sub waits
        state["http"] = httpx.AsyncClient(base_url=settings.query_api_url, timeout=10)
        handlers = {
            "email": email_handlers(
                SmtpSender(settings.smtp_url, timeout=settings.email_timeout_seconds), sends, settings.mail_from
            ),
            "sms": sms_handlers(state["sms"], sends),
            "reports": report_handlers(
                db,
                publish,
                report_store,
                email_topic=job_topic(settings, "email"),
                query_api_url=settings.query_api_url,
            ),
            "analytics": analytics.analytics_handlers(db),
            "audit": audit.audit_handlers(db),
            "warmup": warmup.warmup_handlers(
                state["redis"], state["http"], top_n=settings.warmup_top_n, prefix=settings.kafka_topic_prefix
            ),
        }
        state["runners"].update({kind: Runner(rules[kind], handlers[kind], publish, settings) for kind in RUN_KINDS})

    async def start_background() -> None:
        stats = {kind: runner.stats for kind, runner in state["runners"].items()}
        state["ops"] = OpsServer(settings, state["db"], stats)
        await state["ops"].start()
        state["tasks"] = [
            asyncio.create_task(heartbeat(state["db"], stats), name="heartbeat"),
            asyncio.create_task(_rollups(state), name="analytics-rollups"),
            asyncio.create_task(
                warmup.listen(state["redis"], state["runners"]["warmup"], prefix=settings.kafka_topic_prefix),
                name="warm-up",
            ),
        ]

    async def _rollups(state: dict) -> None:
        while True:
            await asyncio.sleep(settings.analytics_rollup_interval_seconds)
            try:
                for job in await analytics.dirty_rollup_jobs(state["db"]):
                    await state["runners"]["analytics"].run(job)
            except Exception as exc:  # the marks stay; the next pass retries
                log.warning("analytics roll-up pass failed: %s", exc)

    async def stop_background() -> None:
        # Before the broker stops: finish or hand back in-flight jobs, so the consumers
        # are idle when they close and nothing half-done is committed.
        closing.set()
        await asyncio.gather(*(runner.drain(settings.graceful_timeout_seconds) for runner in state["runners"].values()))
        for task in state["tasks"]:
            task.cancel()
        await asyncio.gather(*state["tasks"], return_exceptions=True)
        if "ops" in state:
            await state["ops"].stop()

    async def close_resources() -> None:
        # The broker stopped fetching and waited ``graceful_timeout``; what still runs is
        # handed back while MongoDB is still open for releasing its claims.
        await asyncio.gather(*(runner.hand_back() for runner in state["runners"].values()))
        await state["sms"].close()
        await state["http"].aclose()
        await state["redis"].aclose()
        await state["client"].close()

    activity.register(broker, settings)  # per-event log line and business metrics (issue 7)
    app = FastStream(
        broker,
        logger=log,
        on_startup=[open_resources],
        after_startup=[start_background],
        on_shutdown=[stop_background],
        after_shutdown=[close_resources],
    )
    return instrument_faststream(app, "workers")


def _decode(msg: KafkaMessage) -> EventEnvelope | None:
    return _decode_as(EventEnvelope, msg)


def _decode_job(msg: KafkaMessage) -> Job | None:
    return _decode_as(Job, msg)


def _decode_as(model, msg: KafkaMessage):
    """The message as ``model``, or None (logged): a malformed message is skipped, since
    redelivering it could never succeed and would hold its partition forever."""
    try:
        return model.model_validate_json(msg.body)
    except ValueError as exc:
        record = msg.raw_message
        log.error(
            "skipping malformed %s at %s/%s@%s: %s", model.__name__, record.topic, record.partition, record.offset, exc
        )
        return None
