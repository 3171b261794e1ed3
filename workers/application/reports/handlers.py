"""The sales-report job: read orders, build CSV and PDF, store them, email the link.

The whole job runs under the reports policy's time limit (5 minutes by default,
``WORKER_REPORT_TIMEOUT_SECONDS``). CPU-heavy rendering runs in a thread so the limit
can interrupt the job; a failed or timed-out attempt marks the report ``failed`` with
the reason, removes its partial files, and is retried per policy. Re-running a report
is harmless: the files are rebuilt and the pointer moves to the new generation.
"""

from __future__ import annotations

import asyncio
import logging
import time as clock
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from shared.events import utc_now
from shared.mongo import Database, Document
from shared.read_models import ORDERS
from shared.worker_read_models import REPORTS, ReportFile, ReportRequest, ReportSummary

from workers.application.jobs import Job, job_id_for
from workers.application.payloads import ReportReady, SalesReport
from workers.application.policy import Handler, Publisher
from workers.application.ports import ReportFiles
from workers.application.reports.build import SalesSummary, write_csv, write_pdf

log = logging.getLogger(__name__)


def day_range(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """Inclusive UTC days → a half-open datetime interval."""
    start = datetime.combine(date_from, time.min, UTC)
    end = datetime.combine(date_to + timedelta(days=1), time.min, UTC)
    return start, end


async def load_orders(db: Database, merchant_id: str, date_from: date, date_to: date) -> list[Document]:
    """The merchant's orders placed in the range, oldest first.

    Whole documents, sorted here: on FerretDB v1 a projection of nested fields doubles
    the read time and a server-side sort adds more (measured on 10,000 orders); on
    MongoDB the range is served by the orders read model's (merchant_id, placed_at) index.
    """
    start, end = day_range(date_from, date_to)
    cursor = db[ORDERS].find({"merchant_id": merchant_id, "placed_at": {"$gte": start, "$lt": end}})
    orders = [order async for order in cursor]
    orders.sort(key=lambda o: (o["placed_at"], o["_id"]))
    return orders


def report_links(query_api_url: str, report_id: str, formats: list[str]) -> dict[str, str]:
    return {fmt: f"{query_api_url}/v1/reports/{report_id}/files/{fmt}" for fmt in formats}


def report_ready(job: Job, report: SalesReport, summary: ReportSummary, query_api_url: str) -> Job | None:
    """The report-ready email job, or None when nobody asked to be told."""
    if not report.notify_email:
        return None
    payload = ReportReady(
        to=report.notify_email,
        report_id=report.report_id,
        date_from=report.date_from,
        date_to=report.date_to,
        orders=summary.orders,
        links=report_links(query_api_url, report.report_id, list(report.formats)),
    )
    return Job(
        job_id=job_id_for(report.report_id, "email.report_ready"),
        kind="email",
        action="report_ready",
        merchant_id=job.merchant_id,
        correlation_id=job.correlation_id,
        key=report.report_id,
        payload=payload.to_payload(),
    )


def report_handlers(
    db: Database, publish: Publisher, store: ReportFiles, *, email_topic: str, query_api_url: str
) -> dict[str, Handler]:
    reports = SalesReports(db, publish, store, email_topic=email_topic, query_api_url=query_api_url)
    return {"sales_report": reports.run}


class SalesReports:
    """The ``sales_report`` job, over the orders read model, the report document and the
    report file store."""

    def __init__(
        self, db: Database, publish: Publisher, store: ReportFiles, *, email_topic: str, query_api_url: str
    ) -> None:
        self.db, self.reports, self.publish, self.store = db, db[REPORTS], publish, store
        self.email_topic, self.query_api_url = email_topic, query_api_url

    async def run(self, job: Job) -> None:
        report = job.read(SalesReport)
        try:
            summary = await self.summary_of(job, report)
        except BaseException as exc:
            # Cancelled means the time limit (or shutdown) interrupted the attempt.
            reason = "timed out" if isinstance(exc, asyncio.CancelledError) else f"{type(exc).__name__}: {exc}"
            failed = {"status": "failed", "error": reason, "attempts": job.attempt}
            await self.reports.update_one({"_id": report.report_id}, {"$set": failed})
            raise
        if (email := report_ready(job, report, summary, self.query_api_url)) is not None:
            await self.publish(self.email_topic, email)

    async def summary_of(self, job: Job, report: SalesReport) -> ReportSummary:
        """The report's summary: built now, or by an earlier delivery (then only notify)."""
        current = await self.reports.find_one({"_id": report.report_id})
        if current is not None and current["status"] == "ready":
            return ReportSummary.model_validate(current["summary"])
        running = {"status": "running", "attempts": job.attempt, "started_at": utc_now()}
        await self.reports.update_one(
            {"_id": report.report_id},
            {"$set": running, "$setOnInsert": requested_fields(job, report).document()},
            upsert=True,
        )
        return await self.build(job, report)

    async def build(self, job: Job, report: SalesReport) -> ReportSummary:
        started = clock.monotonic()
        orders = await load_orders(self.db, job.merchant_id, report.date_from, report.date_to)
        log.info("report %s: %d orders loaded in %.1fs", report.report_id, len(orders), clock.monotonic() - started)
        summary = SalesSummary()
        for order in orders:
            summary.add(order)
        renderers: dict[str, Callable[[], bytes]] = {
            "csv": lambda: write_csv(orders),
            "pdf": lambda: write_pdf(
                summary, merchant_id=job.merchant_id, date_from=str(report.date_from), date_to=str(report.date_to)
            ),
        }
        generation = uuid.uuid4().hex[:12]
        files = await self.store_files(report, generation, renderers)
        log.info("report %s: built and stored in %.1fs", report.report_id, clock.monotonic() - started)
        built = summary.report_summary()
        ready = {
            "status": "ready",
            "summary": built.document(),
            "files": {fmt: file.document() for fmt, file in files.items()},
            "error": None,
            "completed_at": utc_now(),
        }
        await self.reports.update_one({"_id": report.report_id}, {"$set": ready})
        await self.store.discard(self.db, report.report_id, keep=generation)
        return built

    async def store_files(
        self, report: SalesReport, generation: str, renderers: dict[str, Callable[[], bytes]]
    ) -> dict[str, ReportFile]:
        """Render (in a thread, so the time limit can interrupt) and store each format
        under ``generation``; on any failure that generation's files are removed."""
        try:
            files: dict[str, ReportFile] = {}
            for fmt in report.formats:
                content = await asyncio.to_thread(renderers[fmt])
                files[fmt] = await self.store.store_file(self.db, report.report_id, fmt, generation, content)
            return files
        except BaseException:
            await self.store.discard(self.db, report.report_id, generation=generation)
            raise


def requested_fields(job: Job, report: SalesReport) -> ReportRequest:
    return ReportRequest(
        merchant_id=job.merchant_id,
        kind=report.kind,
        date_from=report.date_from.isoformat(),
        date_to=report.date_to.isoformat(),
        formats=list(report.formats),
        notify_email=report.notify_email,
        requested_at=job.created_at,
    )


async def record_requested(db: Database, job: Job) -> None:
    """The report exists (status ``requested``) as soon as the request is dispatched."""
    report = job.read(SalesReport)
    requested = {**requested_fields(job, report).document(), "status": "requested", "attempts": 0}
    await db[REPORTS].update_one({"_id": report.report_id}, {"$setOnInsert": requested}, upsert=True)
