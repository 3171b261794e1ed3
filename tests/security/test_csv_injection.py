"""A customer e-mail written as a spreadsheet formula reaches the merchant's sales report
as text: the CSV cell starts with ``'`` (OWASP's advice), end to end — order placed with
the storefront key, projected, report built by the worker, downloaded from the query API."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime

import pytest

from tests.e2e.commands import auth, order_body, product_body
from tests.security.conftest import eventually
from tests.support.workers import worker

pytestmark = pytest.mark.security

FORMULA_EMAIL = '=HYPERLINK("http://evil.example","x")&"@x.io"'


@pytest.fixture
async def report_worker(security_env, guarded, tmp_path):
    service = worker(security_env, tmp_path, "workers-security", QUERY_API_URL=guarded.query_api.url)
    await asyncio.to_thread(lambda: service.start().wait_ready())
    yield service
    await asyncio.to_thread(service.stop)


async def test_a_formula_in_a_customer_email_is_neutralised_in_the_csv(command, query, new_merchant, report_worker):
    merchant = await new_merchant()
    sk = auth(merchant["secret_key"])
    product = await command.post("/v1/products", json=product_body(stock=5), headers=sk)
    assert product.status_code == 202, product.text
    body = order_body((product.json()["id"], 1), customer={"email": FORMULA_EMAIL})
    placed = await command.post("/v1/orders", json=body, headers=auth(merchant["publishable_key"]))
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["id"]

    async def projected():  # min_version waits 2 s at most: a busy machine may need longer (409)
        return (await query.get(f"/v1/merchant/orders/{order_id}?min_version=1", headers=sk)).status_code == 200

    assert await eventually(projected, timeout=60)

    today = datetime.now(UTC).date().isoformat()
    requested = await command.post("/v1/reports", json={"date_from": today, "date_to": today}, headers=sk)
    assert requested.status_code == 202, requested.text
    report = f"/v1/reports/{requested.json()['id']}"

    async def ready():
        status = await query.get(report, headers=sk)
        return status.status_code == 200 and status.json()["status"] == "ready"

    assert await eventually(ready, timeout=90), (await query.get(report, headers=sk)).text
    text = (await query.get(f"{report}/files/csv", headers=sk)).text
    rows = {row["order_id"]: row for row in csv.DictReader(io.StringIO(text))}
    assert rows[order_id]["customer_email"] == "'" + FORMULA_EMAIL.lower()  # e-mails are stored lower-case
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells), text
