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
"""

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
