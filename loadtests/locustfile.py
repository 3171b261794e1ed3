"""The locust scenarios: storefront visitors, checkouts and merchant dashboards.

Run through ``python -m loadtests.run <scenario>`` (``merchant load``), which sets:
``LOAD_DATA`` (the seed JSON: merchants, keys, product ids, categories),
``LOAD_COMMAND_URL`` / ``LOAD_QUERY_URL``, ``LOAD_SCENARIO`` (+ ``LOAD_SECONDS``,
``LOAD_RATE`` to stretch or scale it) and ``LOAD_RECORD`` (where each request's time,
latency and status are written at the end, for the per-step figures of the summary).

Every task is exactly one request, and each user is paced at ``PER_USER_RPS``, so the
offered rate is the shape's users × that rate. The mix (task weights, per 100 requests):
storefront reads 97 %, checkout 0.5 %, dashboard commands 0.5 %, merchant order lists 2 %
(``MIX``). Requests leave on schedule (open loop), however slow the answers.

Each answer is judged by ``loadtests.outcomes``: the business 409s (out of stock, wrong
state) are successes for locust and the record, every other answer but 2xx/304 — and no
answer — an error; the record keeps each request's verdict and, for every answer other
than 2xx/304, its error code.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from array import array
from collections import Counter, OrderedDict

import gevent
from locust import LoadTestShape, events, task
from locust.contrib.fasthttp import FastHttpUser

from loadtests.outcomes import is_error, is_success_status
from loadtests.scenarios import PER_USER_RPS, SCENARIOS, SORTS, poisson_arrivals, users_for


def _scenario():
    scenario = SCENARIOS[os.environ.get("LOAD_SCENARIO", "smoke")]
    seconds, rate = os.environ.get("LOAD_SECONDS"), os.environ.get("LOAD_RATE")
    return scenario.scaled(float(seconds) if seconds else None, float(rate) if rate else None)


class Dataset:
    def __init__(self, path: str) -> None:
        raw = json.loads(open(path).read())
        self.merchants = [m for m in raw["merchants"] if m.get("product_ids")]
        # Popularity: a few products get most views (Zipf-like), as in a real shop.
        self.products = [(m, p) for m in self.merchants for p in m["product_ids"]]
        self.weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(self.products))]
        self.categories = sorted({c for m in self.merchants for c in m.get("categories", [])})

    def popular_product(self) -> tuple[dict, str]:
        return random.choices(self.products, weights=self.weights)[0]


DATA = Dataset(os.environ["LOAD_DATA"]) if os.environ.get("LOAD_DATA") else None
COMMAND_URL = os.environ.get("LOAD_COMMAND_URL", "http://127.0.0.1:8001")
PAGE_SIZE = int(os.environ.get("LOAD_PAGE_SIZE", "20"))


class Recorder:
    """Every request's (second since start, latency ms, status, kind, error or not) and the
    accepted order ids."""

    def __init__(self) -> None:
        self.started = time.time()
        self.seconds, self.latency, self.status, self.kind = array("f"), array("f"), array("H"), array("B")
        self.error = array("B")
        self.kinds: dict[str, int] = {}
        self.by_name: Counter = Counter()
        self.error_codes: Counter = Counter()  # "name status code" of answers other than 2xx/304 (business 409s too)
        self.orders_accepted: set[str] = set()

    def add(self, name: str, status: int, ms: float, error: bool) -> None:
        self.seconds.append(time.time() - self.started)
        self.latency.append(ms)
        self.status.append(status)
        self.error.append(int(error))
        self.kind.append(self.kinds.setdefault(name, len(self.kinds)))
        self.by_name[f"{name} {status}"] += 1

    def write(self, path: str) -> None:
        with open(path, "w") as out:
            json.dump(
                {
                    "started": self.started,
                    "t": [round(x, 3) for x in self.seconds],
                    "ms": [round(x, 2) for x in self.latency],
                    "status": list(self.status),
                    "kind": list(self.kind),
                    "error": list(self.error),
                    "kinds": list(self.kinds),
                    "by_name": dict(self.by_name),
                    "error_codes": dict(self.error_codes),
                    "orders_accepted": sorted(self.orders_accepted),
                },
                out,
            )


RECORD = Recorder()


@events.request.add_listener
def _record(request_type, name, response_time, response_length, response=None, exception=None, **kw):
    status = getattr(response, "status_code", 0) or 0
    # _judge failed every error (a business 409 succeeded); no answer is an error whatever else.
    RECORD.add(name, status, response_time, error=exception is not None or status == 0)


@events.quitting.add_listener
def _write_record(environment, **kw):
    if os.environ.get("LOAD_RECORD"):
        RECORD.write(os.environ["LOAD_RECORD"])


def _judge(r, name: str) -> None:
    """2xx/304 and the business 409s are successes; anything else is a failure. Every
    answer but 2xx/304 is counted with its error code."""
    if is_success_status(r.status_code):
        r.success()
        return
    try:
        code = r.json()["error"]["code"]
    except Exception:  # no JSON body (connection error, proxy page)
        code = "-"
    RECORD.error_codes[f"{name} {r.status_code} {code}"] += 1
    if is_error(r.status_code, code):
        r.failure(f"{r.status_code} {code}")
    else:
        r.success()


class Visitor(FastHttpUser):
    """One person: a storefront visitor most of the time, now and then buying; dashboard
    tasks use the merchant's secret key (merchants are users of the same system)."""

    wait_time = poisson_arrivals(PER_USER_RPS)
    connection_timeout = 10.0
    network_timeout = 15.0  # commands give up after 10 s on the server (503 timeout)
    concurrency = 64  # connections per user: room for requests still waiting on a slow answer

    def on_start(self) -> None:
        self.merchant = random.choice(DATA.merchants)
        self.etags: OrderedDict[str, str] = OrderedDict()
        self.walk: tuple[str, str] | None = None  # (query without cursor, next cursor)
        # LOAD_TOUR=1: each user also makes one request of every kind, in order, beside
        # the mix (the automated test asserts that each kind was exercised).
        self.tour = list(TOUR) if os.environ.get("LOAD_TOUR") else []
        if self.tour:
            gevent.spawn(self._take_the_tour)

    def _take_the_tour(self) -> None:
        while self.tour:
            getattr(self, self.tour[0])()
            self.tour.pop(0)

    @task
    def act(self) -> None:
        """One request drawn from the mix, sent in a greenlet of its own — an open loop:
        the next request leaves on schedule even if this one's answer is slow, so the
        offered rate holds."""
        gevent.spawn(getattr(self, random.choices(MIX_NAMES, weights=MIX_WEIGHTS)[0]))

    def _get(self, path: str, name: str, headers: dict | None = None):
        with self.client.get(path, name=name, headers=headers or {}, catch_response=True) as r:
            _judge(r, name)
            return r

    def _post(self, url: str, name: str, body: dict, key: str, idem: str | None = None):
        headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": idem or str(uuid.uuid4())}
        with self.client.post(url, name=name, json=body, headers=headers, catch_response=True) as r:
            _judge(r, name)
            return r

    def browse_category(self) -> None:
        params = f"category={random.choice(DATA.categories)}&sort={random.choice(SORTS)}&limit={PAGE_SIZE}"
        if random.random() < 0.3:
            params += f"&merchant={self.merchant['merchant_id']}"
        r = self._get(f"/v1/products?{params}", "GET /v1/products?category&sort")
        self._remember_cursor(params, r)

    def next_page(self) -> None:
        if self.walk is None:
            return self.browse_category()
        params, cursor = self.walk
        r = self._get(f"/v1/products?{params}&cursor={cursor}", "GET /v1/products?cursor")
        self._remember_cursor(params, r)

    def _remember_cursor(self, params: str, r) -> None:
        self.walk = None
        if r.status_code == 200:
            cursor = r.json().get("next_cursor")
            if cursor:
                self.walk = (params, cursor)

    def product_detail(self) -> None:
        _, product_id = DATA.popular_product()
        if self.tour and self.etags:  # touring: revalidate the product just seen
            product_id = next(reversed(self.etags))
        etag = self.etags.get(product_id)
        if etag and (self.tour or random.random() < 0.6):  # a returning visitor's browser revalidates
            self._get(f"/v1/products/{product_id}", "GET /v1/products/{id} If-None-Match", {"If-None-Match": etag})
            return
        r = self._get(f"/v1/products/{product_id}", "GET /v1/products/{id}")
        if r.status_code == 200 and r.headers.get("etag"):
            self.etags[product_id] = r.headers["etag"]
            if len(self.etags) > 200:
                self.etags.popitem(last=False)

    def categories(self) -> None:
        self._get("/v1/categories", "GET /v1/categories")

    def checkout(self) -> None:
        m = self.merchant
        lines = random.sample(m["product_ids"], k=min(len(m["product_ids"]), random.randint(1, 3)))
        body = {
            "items": [{"product_id": p, "quantity": random.randint(1, 2)} for p in lines],
            "customer": {"email": f"buyer{random.randint(1, 10**6)}@example.com", "name": "Load Buyer"},
            "shipping_address": {
                "name": "Load Buyer",
                "line1": "1 Test Street",
                "city": "Berlin",
                "postal_code": "10115",
                "country": "DE",
            },
        }
        idem = str(uuid.uuid4())
        r = self._post(f"{COMMAND_URL}/v1/orders", "POST /v1/orders", body, m["publishable_key"], idem)
        if r.status_code == 202:
            RECORD.orders_accepted.add(r.json()["id"])
            if random.random() < 0.1:  # a retried checkout (double click): answered once
                self._post(f"{COMMAND_URL}/v1/orders", "POST /v1/orders (retry)", body, m["publishable_key"], idem)

    def change_price(self) -> None:
        product_id = random.choice(self.merchant["product_ids"])
        body = {"price": {"amount": random.randint(500, 20000), "currency": self.merchant.get("currency", "EUR")}}
        self._post(
            f"{COMMAND_URL}/v1/products/{product_id}/price",
            "POST /v1/products/{id}/price",
            body,
            self.merchant["secret_key"],
        )

    def adjust_stock(self) -> None:
        product_id = random.choice(self.merchant["product_ids"])
        self._post(
            f"{COMMAND_URL}/v1/products/{product_id}/stock",
            "POST /v1/products/{id}/stock",
            {"delta": random.choice((5, 10, 20)), "reason": "restock"},
            self.merchant["secret_key"],
        )

    def merchant_orders(self) -> None:
        status = random.choice(("", "&status=placed"))
        self._get(
            f"/v1/merchant/orders?limit=20{status}",
            "GET /v1/merchant/orders",
            {"Authorization": f"Bearer {self.merchant['secret_key']}"},
        )


# Requests per 100 of each kind: storefront reads 97 %, checkout 0.5 % (+ a retried
# double click now and then), dashboard commands 0.5 %, merchant order lists 2 %. A shop
# converts 1-3 % of visits of 10-20 pages each into an order: ~0.1-0.3 % of requests.
MIX = {
    "browse_category": 30,
    "next_page": 13,
    "product_detail": 46,
    "categories": 8,
    "checkout": 0.5,
    "change_price": 0.25,
    "adjust_stock": 0.25,
    "merchant_orders": 2,
}
MIX_NAMES, MIX_WEIGHTS = list(MIX), list(MIX.values())
# next_page follows browse_category's cursor; the second product_detail revalidates the first.
TOUR = (
    "browse_category",
    "next_page",
    "product_detail",
    "product_detail",
    "categories",
    "checkout",
    "change_price",
    "adjust_stock",
    "merchant_orders",
)


class ScenarioShape(LoadTestShape):
    """Users over time so that users × PER_USER_RPS follows the scenario's rate."""

    use_common_options = True

    def __init__(self) -> None:
        super().__init__()
        self.scenario = _scenario()

    def tick(self):
        rate = self.scenario.rate_at(self.get_run_time())
        if rate is None:
            return None
        users = users_for(rate)
        return users, max(users, 50)  # spawn within a second: a spike is a jump, not a ramp
