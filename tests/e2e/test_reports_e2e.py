"""A merchant requests a sales report over HTTP; the worker builds it; the query API
serves it; the link is emailed. Bad requests are 4xx with the offending fields."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import UTC, datetime

import pytest

from shared.read_models import ORDERS

from tests.support.workers import mail_to, wait_until, worker

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def report_worker(stack, server_env, tmp_path_factory):
    service = worker(
        server_env, tmp_path_factory.mktemp("report-worker"), "workers-e2e", QUERY_API_URL=stack.query_api.url
    )
    await asyncio.to_thread(lambda: service.start().wait_ready(timeout=60))  # ~20 consumer groups join
    yield service
    await asyncio.to_thread(service.stop)


async def test_requested_report_is_built_downloadable_and_emailed(
    command_client, query_client, merchant, other_merchant, report_worker, mongo_db, servers
):
    auth = {"Authorization": f"Bearer {merchant['secret_key']}"}
    day = datetime(2025, 3, 14, 12, tzinfo=UTC)
    orders = [
        {
            "_id": str(uuid.uuid4()),
            "merchant_id": merchant["merchant_id"],
            "placed_at": day,
            "status": "paid",
            "currency": "EUR",
            "item_count": 1,
            "total": 1000 * (i + 1),
            "customer_email": "c@example.com",
            "lines": [],
        }
        for i in range(3)
    ]
    await mongo_db[ORDERS].insert_many(orders)
    notify = f"owner-{uuid.uuid4().hex[:8]}@example.com"

    response = await command_client.post(
        "/v1/reports", headers=auth, json={"date_from": "2025-03-14", "date_to": "2025-03-14", "notify_email": notify}
    )
    assert response.status_code == 202, response.text
    report_id = response.json()["id"]
    assert response.headers["location"].endswith(f"/v1/reports/{report_id}")

    async def ready():
        r = await query_client.get(f"/v1/reports/{report_id}", headers=auth)
        return r.json() if r.status_code == 200 and r.json()["status"] == "ready" else None

    status = await wait_until(ready, timeout=60, what="report ready")
    assert status["summary"] == {"orders": 3, "items": 3, "totals": {"EUR": 6000}}
    download = await query_client.get(f"/v1/reports/{report_id}/files/csv", headers=auth)
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert sorted(int(r["total"]) for r in rows) == [1000, 2000, 3000]
    cached = await query_client.get(
        f"/v1/reports/{report_id}/files/csv", headers={**auth, "If-None-Match": download.headers["etag"]}
    )
    assert cached.status_code == 304
    # Another merchant's key cannot see it — a 404 as for an id that does not exist, never
    # a 403 that would confirm it does; no key is 401.
    other = {"Authorization": f"Bearer {other_merchant['secret_key']}"}
    for path in (f"/v1/reports/{report_id}", f"/v1/reports/{report_id}/files/csv"):
        refused = await query_client.get(path, headers=other)
        assert (refused.status_code, refused.json()["error"]["code"]) == (404, "not_found"), path
        assert b"c@example.com" not in refused.content and b"6000" not in refused.content
    assert (await query_client.get(f"/v1/reports/{report_id}")).status_code == 401
    assert await wait_until(
        lambda: _first(mail_to(servers.mailbox_api, {notify}), notify), timeout=30, what="report-ready email"
    )


async def _first(found, address):
    return (await found)[address]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"date_from": "2025-03-14", "date_to": "2025-03-01"}, "body"),
        ({"date_from": "2024-01-01", "date_to": "2025-03-01"}, "body"),
        ({"date_from": "2025-03-14"}, "date_to"),
        ({"date_from": "2025-03-14", "date_to": "2025-03-15", "formats": ["xlsx"]}, "formats.0"),
        ({"date_from": "2025-03-14", "date_to": "2025-03-15", "notify_email": "not-an-email"}, "notify_email"),
        ({"date_from": "2025-03-14", "date_to": "2025-03-15", "colour": "red"}, "colour"),
    ],
)
async def test_bad_report_requests_are_422_naming_the_field(command_client, merchant, body, field):
    response = await command_client.post(
        "/v1/reports", json=body, headers={"Authorization": f"Bearer {merchant['secret_key']}"}
    )
    assert response.status_code == 422, response.text
    assert field in [f["field"] for f in response.json()["error"]["fields"]]


async def test_a_storefront_key_cannot_request_reports(command_client, merchant):
    response = await command_client.post(
        "/v1/reports",
        json={"date_from": "2025-03-14", "date_to": "2025-03-14"},
        headers={"Authorization": f"Bearer {merchant['publishable_key']}"},
    )
    assert response.status_code == 403
