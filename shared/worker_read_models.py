"""Collections the workers write and the query API reads (neither imports the other).

audit_log (one per domain event; append-only)
    _id (event id), merchant_id, actor {merchant_id, command_id}, type, aggregate_type,
    aggregate_id, aggregate_version, data, occurred_at, recorded_at, correlation_id

reports (one per report)
    _id (report id), merchant_id, kind, date_from, date_to, formats, notify_email,
    status ("requested" | "running" | "ready" | "failed"), attempts, error,
    summary {orders, items, totals {currency: minor units}}, files {fmt: {size, sha256,
    content_type, generation, chunks}}, requested_at, started_at, completed_at

merchant_analytics (one per merchant; recomputed by the analytics roll-up)
    _id (merchant id), merchant_id, weekly [{week, currency, orders, sales}],
    monthly [{month, currency, orders, sales}], top_products [{product_id, units, sales}],
    customers, repeat_customers, repeat_customer_rate, computed_at

report_chunks (a stored report file in pieces below MongoDB's document limit)
    _id ("<report id>:<fmt>:<generation>:<seq>"), report_id, fmt, generation, seq, data

The models below type these documents (``AuditEntry``, ``Report`` and its parts,
``MerchantAnalytics``): the workers build them and write ``document()``, a reader may
``model_validate`` what it reads. Fields and BSON types are exactly those listed above.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING, IndexModel

AUDIT_LOG = "audit_log"
REPORTS = "reports"
REPORT_CHUNKS = "report_chunks"
MERCHANT_ANALYTICS = "merchant_analytics"

# The query API pages a merchant's audit log in (occurred_at, _id) order.
AUDIT_LOG_INDEXES = [
    IndexModel(
        [("merchant_id", ASCENDING), ("occurred_at", ASCENDING), ("_id", ASCENDING)], name="audit_by_merchant_in_time"
    ),
]
REPORT_CHUNK_INDEXES = [
    IndexModel(
        [("report_id", ASCENDING), ("fmt", ASCENDING), ("generation", ASCENDING), ("seq", ASCENDING)],
        name="chunks_in_order",
    ),
]


def chunk_id(report_id: str, fmt: str, generation: str, seq: int) -> str:
    return f"{report_id}:{fmt}:{generation}:{seq:06d}"


class WorkerReadModel(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    def document(self) -> dict[str, Any]:
        """As stored: ``_id`` by its name, datetimes as BSON dates."""
        return self.model_dump(by_alias=True)


# -- audit_log ---------------------------------------------------------------------------
class AuditActor(WorkerReadModel):
    merchant_id: str  # the merchant whose key issued the command
    command_id: str | None  # the command itself (the event's causation id)


class AuditEntry(WorkerReadModel):
    event_id: str = Field(alias="_id")
    merchant_id: str
    actor: AuditActor
    type: str
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    data: dict[str, Any]
    occurred_at: datetime
    recorded_at: datetime
    correlation_id: str


# -- reports (``_id`` is the report id) ----------------------------------------------------
ReportStatus = Literal["requested", "running", "ready", "failed"]


class ReportRequest(WorkerReadModel):
    """What was asked: set once, when the report is first recorded."""

    merchant_id: str
    kind: str
    date_from: str  # ISO dates, inclusive UTC days
    date_to: str
    formats: list[str]
    notify_email: str | None
    requested_at: datetime


class ReportSummary(WorkerReadModel):
    orders: int
    items: int
    totals: dict[str, int]  # currency -> minor units


class ReportFile(WorkerReadModel):
    size: int
    sha256: str
    content_type: str
    generation: str  # the attempt that wrote the file's chunks
    chunks: int


class Report(ReportRequest):
    """The whole document as a reader sees it once the workers have recorded it."""

    report_id: str = Field(alias="_id")
    status: ReportStatus
    attempts: int
    error: str | None = None
    summary: ReportSummary | None = None
    files: dict[str, ReportFile] = Field(default_factory=dict)
    started_at: datetime | None = None
    completed_at: datetime | None = None


# -- merchant_analytics (``_id`` is the merchant id) ---------------------------------------
class WeeklySales(WorkerReadModel):
    week: str  # ISO week, "2026-W48"
    currency: str
    orders: int
    sales: int  # minor units; cancelled, expired and refunded orders count 0


class MonthlySales(WorkerReadModel):
    month: str  # "2026-11"
    currency: str
    orders: int
    sales: int


class TopProduct(WorkerReadModel):
    product_id: str
    units: int
    sales: int


class MerchantAnalytics(WorkerReadModel):
    merchant_id: str
    weekly: list[WeeklySales]
    monthly: list[MonthlySales]
    top_products: list[TopProduct]
    customers: int
    repeat_customers: int
    repeat_customer_rate: float
    computed_at: datetime
