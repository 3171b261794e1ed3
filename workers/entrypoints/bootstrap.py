"""The workers' composition root: what a worker process is made of, built in one place.

``bootstrap(settings)`` builds every part and wires the job handlers and their runners;
it does no I/O (clients connect on first use), so the FastStream app (``app``), ``merchant
jobs`` and the tests all start from it, and a test can hand it fake ``Senders``. The
``WorkerSide`` it returns is opened and closed around the broker's life:

- ``open``: the domain and job topics exist, the indexes the jobs rely on exist;
- ``start``: the ops endpoint, heartbeats, the analytics derivation and the warm-up listener;
- ``stop`` (before the broker stops): retry relays stop waiting (a waiting retry goes
  back on its topic), the background tasks end. The broker then stops taking messages
  and gives the attempts in flight its graceful timeout — nothing is handed back only to
  be fetched again while the worker stops;
- ``close`` (after the broker stopped): attempts still running are handed back, sends
  still waiting for their answer get the grace, then their claims are released while
  MongoDB is open — the next worker takes those jobs at once — and every client closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from faststream.kafka import KafkaBroker
from redis.asyncio import Redis

from shared import kafka, mongo
from shared import redis as redis_factory
from shared.mongo import Database, MongoClient
from shared.observability.logs import library_logger
from shared.settings import WorkerSettings

from workers.adapters import dedupe, report_store
from workers.adapters.analytics_store import AnalyticsStore
from workers.adapters.job_publisher import BrokerPublisher
from workers.adapters.sms_providers import provider_for
from workers.adapters.smtp import SmtpSender
from workers.application import audit, warmup
from workers.application.dispatch import Contacts
from workers.application.email.handlers import email_handlers
from workers.application.jobs import JOB_TOPIC_PARTITIONS, KINDS, JobKind, all_job_topics, job_topic
from workers.application.policy import Handler, Publisher, Runner, policies
from workers.application.ports import MailSender, ReportFiles, SendOnceStore, SmsProvider
from workers.application.reports.handlers import report_handlers
from workers.application.send_once import Sends
from workers.application.sms.handlers import sms_handlers
from workers.entrypoints.analytics_events import analytics_handlers, derive_forever
from workers.entrypoints.analytics_events import invalidation as analytics_invalidation
from workers.entrypoints.ops_server import OpsServer, heartbeat

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Senders:
    """What the jobs change outside our own stores: the parts a test replaces with fakes."""

    mail: MailSender
    sms: SmsProvider
    sends: SendOnceStore  # the send-once records of email and SMS jobs
    report_files: ReportFiles


class Background:
    """The tasks a worker runs beside its subscribers."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        self.tasks.append(asyncio.create_task(work, name=name))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()


@dataclass(frozen=True)
class WorkerSide:
    settings: WorkerSettings
    broker: KafkaBroker
    publish: Publisher
    mongo: MongoClient
    db: Database
    redis: Redis  # invalidation pub/sub and hot keys (warm-up)
    query_api: httpx.AsyncClient  # warm-up requests
    senders: Senders
    contacts: Contacts
    runners: Mapping[JobKind, Runner]
    sends: Sends  # email and SMS sends, and those waiting for a late answer
    ops: OpsServer
    closing: asyncio.Event = field(default_factory=asyncio.Event)  # set at shutdown: retry relays stop waiting
    background: Background = field(default_factory=Background)

    async def open(self) -> None:
        await kafka.ensure_topics(self.settings)  # the domain topics we read (idempotent)
        await kafka.ensure_topics(self.settings, all_job_topics(self.settings), partitions=JOB_TOPIC_PARTITIONS)
        await audit.create_indexes(self.db)
        await AnalyticsStore(self.db).create_indexes()
        await report_store.create_indexes(self.db)

    async def start(self) -> None:
        await self.ops.start()
        stats = {kind: runner.stats for kind, runner in self.runners.items()}
        self.background.start("heartbeat", heartbeat(self.db, stats))
        interval = self.settings.analytics_rollup_interval_seconds
        prefix = self.settings.kafka_topic_prefix
        derived = analytics_invalidation(self.redis, prefix)
        self.background.start("analytics-rollups", derive_forever(AnalyticsStore(self.db), interval, derived))
        self.background.start("warm-up", warmup.listen(self.redis, self.runners["warmup"], prefix=prefix))

    async def stop(self) -> None:
        # Before the broker stops: waiting retries go back on their topic; attempts in
        # flight are left to the broker's graceful stop, which takes no new message.
        self.closing.set()
        await self.background.stop()
        await self.ops.stop()

    async def close(self) -> None:
        # The broker stopped fetching and waited ``graceful_timeout``; what still runs is
        # handed back, and claims released, while MongoDB is still open.
        await asyncio.gather(*(runner.hand_back() for runner in self.runners.values()))
        await self.sends.close(self.settings.graceful_timeout_seconds)
        await self.senders.sms.close()
        await self.query_api.aclose()
        await self.redis.aclose()
        await self.mongo.close()


def bootstrap(settings: WorkerSettings | None = None, *, senders: Senders | None = None) -> WorkerSide:
    settings = settings or WorkerSettings()
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        logger=library_logger("workers"),
        acks="all",
        enable_idempotence=True,
        graceful_timeout=settings.graceful_timeout_seconds,
    )
    publish = BrokerPublisher(broker)
    client = mongo.open_mongo(settings)
    db = mongo.database(client, settings)
    redis = redis_factory.open_redis(settings, socket_timeout=None)  # pub/sub waits
    query_api = httpx.AsyncClient(base_url=settings.query_api_url, timeout=10)
    senders = senders or real_senders(settings, db)
    sends = Sends(senders.sends, settings.claim_lease_seconds)
    handlers = job_handlers(settings, db, publish, senders, sends, redis, query_api)
    rules = policies(settings)
    runners = {kind: Runner(rules[kind], handlers[kind], publish, settings) for kind in KINDS}
    stats = {kind: runner.stats for kind, runner in runners.items()}
    return WorkerSide(
        settings=settings,
        broker=broker,
        publish=publish,
        mongo=client,
        db=db,
        redis=redis,
        query_api=query_api,
        senders=senders,
        contacts=Contacts(db),
        runners=runners,
        sends=sends,
        ops=OpsServer(settings, db, stats),
    )


def real_senders(settings: WorkerSettings, db: Database) -> Senders:
    return Senders(
        # A send may outlast its attempt, waiting for a late answer (workers.application.send_once).
        mail=SmtpSender(settings.smtp_url, timeout=settings.claim_lease_seconds),
        sms=provider_for(settings.sms_sink, timeout=settings.claim_lease_seconds),
        sends=dedupe.SendOnce(db, lease=settings.claim_lease_seconds),
        report_files=report_store,
    )


def job_handlers(
    settings: WorkerSettings,
    db: Database,
    publish: Publisher,
    senders: Senders,
    sends: Sends,
    redis: Redis,
    query_api: httpx.AsyncClient,
) -> dict[JobKind, dict[str, Handler]]:
    """Each kind's handlers by action, on the parts they need."""
    return {
        "email": email_handlers(senders.mail, sends, settings.mail_from),
        "sms": sms_handlers(senders.sms, sends),
        "reports": report_handlers(
            db,
            publish,
            senders.report_files,
            email_topic=job_topic(settings, "email"),
            query_api_url=settings.query_api_url,
        ),
        "analytics": analytics_handlers(AnalyticsStore(db), analytics_invalidation(redis, settings.kafka_topic_prefix)),
        "audit": audit.audit_handlers(db),
        "warmup": warmup.warmup_handlers(
            redis,
            query_api,
            top_n=settings.warmup_top_n,
            prefix=settings.kafka_topic_prefix,
            min_interval=settings.warmup_min_interval_seconds,
        ),
    }
