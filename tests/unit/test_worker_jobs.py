"""Events → jobs, email rendering, report building, analytics facts: pure functions."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from pypdf import PdfReader

from shared.events import EventEnvelope

from tests.support.workers import order_placed
from workers.application.analytics import fact_update
from workers.application.dispatch import OrderContact, jobs_for
from workers.application.email.messages import render
from workers.application.payloads import OrderConfirmation, OrderExpiredNotice, ShippingNotice
from workers.application.reports.build import SalesSummary, write_csv, write_pdf


def shipped(order_id: str) -> EventEnvelope:
    return EventEnvelope(
        type="OrderShipped",
        aggregate_type="order",
        aggregate_id=order_id,
        aggregate_version=3,
        merchant_id="m",
        correlation_id="c",
        data={"carrier": "DHL", "tracking_number": "TN1"},
    )


def test_order_placed_makes_one_confirmation_job_with_a_stable_id():
    event = order_placed("m", "a@example.com")
    (job,) = jobs_for(event)
    assert (job.kind, job.action, job.payload["to"], job.key) == (
        "email",
        "order_confirmation",
        "a@example.com",
        event.aggregate_id,
    )
    assert jobs_for(event)[0].job_id == job.job_id  # a redelivered event: the same job
    assert jobs_for(order_placed("m", "a@example.com"))[0].job_id != job.job_id


def test_shipping_notice_goes_by_sms_only_when_there_is_a_phone():
    with_phone = jobs_for(shipped("o1"), OrderContact(email="a@example.com", phone="+33600000000"))
    assert [(j.kind, j.read(ShippingNotice).to) for j in with_phone] == [
        ("email", "a@example.com"),
        ("sms", "+33600000000"),
    ]
    assert len({j.job_id for j in with_phone}) == 2
    assert [j.kind for j in jobs_for(shipped("o1"), OrderContact(email="a@example.com"))] == ["email"]


def test_events_without_side_effects_make_no_jobs():
    event = shipped("o1").model_copy(update={"type": "OrderPaid", "data": {}})
    assert jobs_for(event) == []


def test_confirmation_email_has_lines_totals_both_bodies_and_escapes_html():
    event = order_placed("m", "a@example.com", lines=[("<b>Mug</b>", 1250, 2)])
    (job,) = jobs_for(event)
    message = render(job.action, job.read(OrderConfirmation), job_id=job.job_id, sender="shop@example.com")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "2 x <b>Mug</b>" in text and "Total: 25.00 EUR" in text
    assert "&lt;b&gt;Mug&lt;/b&gt;" in html and "<b>Mug</b>" not in html
    assert message["Message-ID"] == f"<{job.job_id}@merchant-backend>"


def test_an_expired_order_tells_its_customer_by_email():
    event = shipped("o1").model_copy(update={"type": "OrderExpired", "data": {"unpaid_for_seconds": 86400}})
    (job,) = jobs_for(event, OrderContact(email="a@example.com", name="<Ann>"))
    assert (job.kind, job.action, job.key) == ("email", "order_expired", "o1")
    assert jobs_for(event, OrderContact(email="a@example.com"))[0].job_id == job.job_id  # redelivered: same job
    message = render(job.action, job.read(OrderExpiredNotice), job_id=job.job_id, sender="shop@example.com")
    assert message["Subject"] == "Your order O1 has expired" and message["To"] == "a@example.com"
    assert "not paid in time" in message.get_body(("plain",)).get_content()
    assert "&lt;Ann&gt;" in message.get_body(("html",)).get_content()


def test_report_csv_and_pdf_agree_on_the_sums():
    orders = [
        {
            "_id": f"o{i}",
            "placed_at": datetime(2026, 11, 1 + i % 3, tzinfo=UTC),
            "status": "paid",
            "customer_email": "c@example.com",
            "item_count": 2,
            "currency": "EUR",
            "total": 1000 + i,
            "lines": [{"product_id": "p", "name": "Mug", "sku": "M", "quantity": 2}],
        }
        for i in range(30)
    ]
    summary = SalesSummary()
    for order in orders:
        summary.add(order)
    rows = list(csv.DictReader(io.StringIO(write_csv(orders).decode())))
    assert sum(int(r["total"]) for r in rows) == summary.all.totals["EUR"] == 30 * 1000 + sum(range(30))
    pdf = write_pdf(summary, merchant_id="m", date_from="2026-11-01", date_to="2026-11-03")
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Orders: 30" in text and "Gross sales: 304.35 EUR" in text


def test_analytics_fact_of_a_placed_order_and_of_a_cancellation():
    event = order_placed("m", "A@Example.com").model_copy(
        update={"occurred_at": datetime(2026, 11, 29, 12, tzinfo=UTC)}
    )
    fact = fact_update(event)
    assert (fact["week"], fact["month"], fact["customer"]) == ("2026-W48", "2026-11", "a@example.com")
    assert "status" not in fact  # a replayed placement never undoes a cancellation
    cancelled = event.model_copy(update={"type": "OrderCancelled", "data": {"reason": ""}})
    assert fact_update(cancelled)["status"] == "cancelled"
    expired = event.model_copy(update={"type": "OrderExpired", "data": {"unpaid_for_seconds": 86400}})
    assert fact_update(expired)["status"] == "expired"  # never paid: no sales
