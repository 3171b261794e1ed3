"""The worker side as ``bootstrap`` wires it, on fake senders and FastStream's in-memory
broker: no server. What goes through here is the real wiring — subscribers, runners,
policy, handlers, send-once — with only the outside world (SMTP, SMS, stores) faked."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from faststream.kafka import TestKafkaBroker

from shared.events import EventEnvelope, utc_now
from shared.mongo import Database
from shared.settings import WorkerSettings
from shared.worker_read_models import ReportFile

from tests.support.workers import order_placed
from workers.application.dispatch import jobs_for
from workers.application.jobs import KINDS, Job, dlq_topic, job_topic, retry_topic
from workers.application.policy import Busy
from workers.application.ports import Claim
from workers.entrypoints import subscribers
from workers.entrypoints.bootstrap import Senders, WorkerSide, bootstrap

# Nothing listens on port 1: a part that tried to connect would fail the test.
SETTINGS = WorkerSettings(
    kafka_bootstrap_servers="127.0.0.1:1",
    mongodb_url="mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=100",
    redis_url="redis://127.0.0.1:1/0",
    kafka_topic_prefix="unit.",
    ops_port=0,
    retry_base_delay_seconds=0.001,
    retry_max_delay_seconds=0.002,
)


class FakeMail:
    def __init__(self, failing: bool = False) -> None:
        self.failing, self.attempts, self.sent = failing, 0, list[EmailMessage]()

    async def send(self, message: EmailMessage) -> None:
        self.attempts += 1
        if self.failing:
            raise ConnectionError("smtp down")
        self.sent.append(message)


class FakeSms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, to: str, text: str, message_id: str) -> None:
        self.sent.append((to, text))

    async def close(self) -> None:
        pass


class InMemorySendOnce:
    def __init__(self) -> None:
        self.state: dict[str, str] = {}

    async def claim(self, job_id: str, kind: str) -> Claim:
        if self.state.get(job_id) == "sent":
            return Claim.ALREADY_SENT
        if self.state.get(job_id) == "claimed":
            raise Busy(utc_now())
        self.state[job_id] = "claimed"
        return Claim.CLAIMED

    async def mark_sent(self, job_id: str) -> None:
        self.state[job_id] = "sent"

    async def release(self, job_id: str) -> None:
        self.state.pop(job_id, None)


class NoReportFiles:
    async def store_file(self, db: Database, report_id: str, fmt: str, generation: str, content: bytes) -> ReportFile:
        raise AssertionError("no report in these tests")

    async def discard(
        self, db: Database, report_id: str, *, generation: str | None = None, keep: str | None = None
    ) -> None:
        raise AssertionError("no report in these tests")


def side_with(mail: FakeMail) -> WorkerSide:
    side = bootstrap(SETTINGS, senders=Senders(mail, FakeSms(), InMemorySendOnce(), NoReportFiles()))
    subscribers.register(side)
    return side


def dead_letters(side: WorkerSide) -> list[Job]:
    """Collect what reaches ``jobs.email.dlq`` (nothing in the product reads it)."""
    dead: list[Job] = []

    async def collect(body: Any) -> None:
        dead.append(Job.model_validate(body))

    side.broker.subscriber(dlq_topic(SETTINGS, "email"), group_id="unit.dlq")(collect)
    return dead


def confirmation_job(event: EventEnvelope) -> Job:
    (job,) = jobs_for(event)
    return job


async def test_bootstrap_builds_every_part_without_reaching_a_server() -> None:
    side = bootstrap(SETTINGS, senders=Senders(FakeMail(), FakeSms(), InMemorySendOnce(), NoReportFiles()))
    assert set(side.runners) == set(KINDS)
    assert all(runner.policy.kind == kind for kind, runner in side.runners.items())
    assert side.db.name == SETTINGS.mongodb_database
    await side.close()


async def test_every_kind_has_a_job_and_a_retry_subscriber_in_groups_of_their_own() -> None:
    side = side_with(FakeMail())
    groups = {sub.group_id: sub.topic_names for sub in side.broker.subscribers}
    for kind in KINDS:
        assert groups[f"workers.{kind}"] == [job_topic(SETTINGS, kind)]
        assert groups[f"workers.{kind}.retry"] == [retry_topic(SETTINGS, kind)]
    assert groups["workers.dispatch"] == ["unit.orders.events", "unit.reports.events"]
    assert len(groups) == len(side.broker.subscribers)  # one consumer group per subscriber
    await side.close()


async def test_an_email_job_is_sent_once_even_when_delivered_twice() -> None:
    mail = FakeMail()
    side = side_with(mail)
    job = confirmation_job(order_placed("m", "ada@example.com"))
    async with TestKafkaBroker(side.broker) as broker:
        for _ in range(2):  # a redelivery: same job id
            await broker.publish(job.to_json(), job_topic(SETTINGS, "email"), key=job.key.encode())
    assert [m["To"] for m in mail.sent] == ["ada@example.com"]
    assert side.runners["email"].stats.succeeded == 2
    await side.close()


async def test_a_failing_email_is_retried_through_the_retry_topic_then_dead_lettered() -> None:
    mail = FakeMail(failing=True)
    side = side_with(mail)
    dead = dead_letters(side)
    job = confirmation_job(order_placed("m", "ada@example.com"))
    async with TestKafkaBroker(side.broker) as broker:
        await broker.publish(job.to_json(), job_topic(SETTINGS, "email"), key=job.key.encode())
    (letter,) = dead
    assert mail.attempts == 4 == letter.attempt  # max_retries 3 for email: four attempts
    assert [a.error for a in letter.history] == ["ConnectionError: smtp down"] * 4
    assert side.runners["email"].stats.retried == 3
    await side.close()


async def test_a_shipping_notice_without_a_known_address_is_dead_lettered_at_once() -> None:
    mail = FakeMail()
    side = side_with(mail)
    dead = dead_letters(side)
    shipped = order_placed("m", "ada@example.com").model_copy(
        update={"type": "OrderShipped", "aggregate_version": 2, "data": {"carrier": "DHL", "tracking_number": "T1"}}
    )
    (notice,) = jobs_for(shipped, contact=None)
    async with TestKafkaBroker(side.broker) as broker:
        await broker.publish(notice.to_json(), job_topic(SETTINGS, "email"), key=notice.key.encode())
    assert mail.attempts == 0 and [d.attempt for d in dead] == [1]
    assert dead[0].dead_reason is not None and "no recipient" in dead[0].dead_reason
    await side.close()
