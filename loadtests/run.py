"""Run one load scenario end to end: ``python -m loadtests.run <scenario>`` (or ``merchant load``).

1. Starts the product (command API, query API, projectors, workers: ``merchant serve``,
   one process each, production mode) on the shared servers with a database and Kafka
   topics of its own (``load_<scenario>_<time>``), unless ``--command-url``/``--query-url``
   point at a running stack.
2. Data: ``--data seed.json`` (``merchant seed --out``) or a small set made through the
   command API (``--merchants``, ``--products``); waits until it is projected.
3. Runs locust headless in its own process (the load generator is a separate process from
   the servers, on the same machine), HTML report and CSVs into
   ``loadtests/results/<scenario>-<time>/``, while sampling RSS, cache counters and
   projection lag, and metering, from just before locust starts to just after it ends, the
   CPU of every process (our services, the servers found by ``loadtests.processes``, the
   load generator, this harness) and the machine, and our services' MongoDB operations.
4. Checks that no accepted command was lost, writes ``summary.json``, ``summary.md`` and
   ``plot.png``, and prints the markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

from loadtests import consistency, costs, dataset, report, summary
from loadtests.ops import Meter, Watched, accepted_commands, events_appended
from loadtests.processes import server_pids, service_pids
from loadtests.sampling import Sampler
from loadtests.scenarios import SCENARIOS
from merchant_testkit.stack import NO_RATE_LIMITS

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = ("command-api", "query-api", "projectors", "workers")
LOAD_GENERATOR = "locust (load generator)"
HARNESS = "merchant load (harness: sampler, meter)"
# One load generator stands for thousands of visitors behind one address, and a few keys for
# many shops' worth of traffic: the per-address, per-key and per-storefront budgets
# (docs/security.md) would otherwise answer it with 429s. The load runs measure the code.
LOAD_ENV = {
    "MERCHANT_ENV": "production",
    # Production refuses the published development default (docs/security.md).
    "QUERY_API_CURSOR_SECRET": secrets.token_urlsafe(32),
    **NO_RATE_LIMITS,
    "MERCHANT_LOG_LEVEL": "warning",
}


def _server_env(namespace: str) -> dict[str, str]:
    from infra import manager

    base = manager.environment()
    env = {k: os.environ.get(k, v) for k, v in base.items()}
    return {**env, "KAFKA_TOPIC_PREFIX": f"{namespace}.", "MONGODB_DATABASE": namespace}


def _start_stack(env: dict[str, str], log_dir: Path, components: tuple[str, ...]):
    """Like the test kit's ``start_stack`` (each component's ops listener on a free port)."""
    from merchant_testkit.processes import http_service, stream_service
    from merchant_testkit.stack import Stack

    services = {}
    for c in components:
        if c in ("command-api", "query-api"):
            services[c] = http_service(c, c, env, log_dir)
        else:
            services[c] = stream_service(c, c, env, log_dir)
    env["QUERY_API_URL"] = services["query-api"].url  # shared dict: the command API's Location
    stack = Stack(services)
    try:
        for s in stack.services:
            s.start()
        for s in stack.services:
            s.wait_ready(timeout=90)
    except BaseException:
        _stop(stack)
        raise
    return stack


def _stop(stack) -> None:
    """Stop every component, even if one does not stop in time (then it is killed)."""
    import signal

    for service in stack.services:
        try:
            service.stop()
        except Exception:
            service.kill(signal.SIGKILL)


def _settings(env: dict[str, str]):
    from shared.settings import ServerSettings

    return ServerSettings(
        **{
            k.lower(): v
            for k, v in env.items()
            if k
            in (
                "KAFKA_BOOTSTRAP_SERVERS",
                "KAFKA_TOPIC_PREFIX",
                "MONGODB_URL",
                "MONGODB_DATABASE",
                "REDIS_URL",
                "SMTP_URL",
            )
        }
    )


def _run_locust(args, out: Path, data_path: Path, command_url: str, query_url: str, pids: dict) -> dict:
    env = {
        **os.environ,
        "LOAD_DATA": str(data_path),
        "LOAD_COMMAND_URL": command_url,
        "LOAD_SCENARIO": args.scenario,
        "LOAD_RECORD": str(out / "requests.json"),
        "PYTHONPATH": str(ROOT),
    }
    if args.seconds:
        env["LOAD_SECONDS"] = str(args.seconds)
    if args.rate:
        env["LOAD_RATE"] = str(args.rate)
    if args.tour:
        env["LOAD_TOUR"] = "1"
    env["LOAD_PAGE_SIZE"] = str(args.page_size)
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(ROOT / "loadtests" / "locustfile.py"),
        "--headless",
        "--host",
        query_url,
        "--csv",
        str(out / "locust"),
        "--html",
        str(out / "report.html"),
        "--loglevel",
        "WARNING",
        "--only-summary",
        "--stop-timeout",
        "15",
    ]
    with (out / "locust.log").open("w") as log:
        locust = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        pids[LOAD_GENERATOR] = locust.pid
        return {"locust": locust}


async def _prepare_data(args, settings, env: dict, command_url: str, query_url: str, out: Path) -> tuple[Path, dict]:
    if args.seed_products:
        data_file = out / "seed.json"
        began = time.monotonic()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "merchant_cli.main",
                "seed",
                "--merchants",
                str(args.merchants),
                "--products",
                str(args.seed_products),
                "--orders",
                str(args.seed_orders),
                "--prefix",
                out.name,
                "--out",
                str(data_file),
            ],
            env={**os.environ, **env},
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        print(
            f"merchant seed: {args.merchants} merchants, {args.seed_products} products, "
            f"{args.seed_orders} orders in {time.monotonic() - began:.0f} s",
            flush=True,
        )
        data = dataset.load(data_file)
    elif args.data:
        data = dataset.load(Path(args.data))
    else:
        began = time.monotonic()
        data = await dataset.seed(settings, command_url, args.merchants, args.products)
        print(
            f"seeded {args.merchants} merchants, {sum(len(m['product_ids']) for m in data['merchants'])} "
            f"products in {time.monotonic() - began:.0f} s",
            flush=True,
        )
    await dataset.wait_visible(query_url, data)
    await dataset.categories_from(query_url, data)
    if not args.cold:
        began = time.monotonic()
        n = await dataset.warm_cache(query_url, data)
        print(f"warmed the caches: {n} reads in {time.monotonic() - began:.0f} s", flush=True)
    path = out / "data.json"
    path.write_text(json.dumps(data))
    return path, data


def run(args, server_env: dict[str, str] | None = None, processes: dict[str, int] | None = None) -> dict:
    """One run. With a running stack (``--command-url``): ``server_env`` names its database
    and topics (else the process environment's), ``processes`` the pids to sample."""
    scenario = SCENARIOS[args.scenario].scaled(args.seconds, args.rate)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = Path(args.out) / f"{args.scenario}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    namespace = args.namespace or f"load_{args.scenario.replace('-', '_')}_{stamp.lower()}"
    stack = None
    env = {**_server_env(namespace), **LOAD_ENV}
    if args.command_url:
        command_url, query_url, projector_metrics = args.command_url, args.query_url, args.projector_metrics_url
        env = server_env or {**os.environ}
        pids = {**processes_of_running_stack(args), **(processes or {})}
    else:
        from shared.kafka import ensure_topics

        asyncio.run(ensure_topics(_settings(env)))
        stack = _start_stack(env, out, tuple(args.components.split(",")))
        command_url, query_url = stack.command_api.url, stack.query_api.url
        projector_metrics = stack["projectors"].ops_url if "projectors" in stack.by_component else None
        pids = {name: s.process.pid for name, s in stack.by_component.items()}
    settings = _settings(env)
    try:
        data_path, data = asyncio.run(_prepare_data(args, settings, env, command_url, query_url, out))
        load_before = os.getloadavg()
        sampler = Sampler(pids, query_url, projector_metrics, interval=args.sample_seconds).start()
        meter = Meter(_watched(stack, args, pids, server_pids(env)), reaped_children=LOAD_GENERATOR, harness=HARNESS)
        work_before = meter.read()
        started = datetime.now(UTC)
        locust = _run_locust(args, out, data_path, command_url, query_url, pids)["locust"]
        sampler.processes = pids
        locust.wait(timeout=scenario.seconds + 300)
        sampler.stop()
        time.sleep(1)  # the last commits' marks and the workers' last batch
        work = Meter.between(work_before, meter.read())
        record = json.loads((out / "requests.json").read_text())
        merchants = [m["merchant_id"] for m in data["merchants"]]
        checked = (
            None if args.no_check else asyncio.run(consistency.check(settings, merchants, record["orders_accepted"]))
        )
        meta = {
            "started_utc": started.strftime("%Y-%m-%d %H:%M"),
            "seconds": scenario.seconds,
            "peak_rps": scenario.peak,
            "namespace": namespace,
            "host": f"{os.cpu_count()} cores, load average {load_before[0]:.1f} at start, "
            f"{os.getloadavg()[0]:.1f} at end",
            "generator": "locust (FastHttpUser, one process) beside the servers",
            "products": sum(len(m["product_ids"]) for m in data["merchants"]),
            "merchants": len(data["merchants"]),
            "out": str(out),
        }
        result = summary.summarise(record, scenario, sampler, checked, meta)
        events = asyncio.run(_events_since(settings, started))
        result["work"] = costs.work_figures(
            work, psutil.cpu_count() or 1, summary.reads_answered(record), accepted_commands(record["by_name"]), events
        )
        (out / "summary.json").write_text(json.dumps(result, indent=2))
        (out / "samples.json").write_text(json.dumps({"rss": sampler.rss, "cache": sampler.cache, "lag": sampler.lag}))
        text = report.markdown(result)
        (out / "summary.md").write_text(text)
        report.plot(record, sampler, scenario, out / "plot.png", f"{args.scenario} ({meta['started_utc']} UTC)")
        print(text, flush=True)
        return result
    finally:
        if stack is not None:
            _stop(stack)
            if not args.keep:
                asyncio.run(_drop_namespace(settings))


def processes_of_running_stack(args) -> dict[str, int]:
    """A running stack's services, by the process listening on each one's URL."""
    return service_pids(
        {
            "command-api": args.command_url,
            "query-api": args.query_url,
            "projectors": args.projector_metrics_url,
            "workers": args.workers_metrics_url,
        }
    )


def _watched(stack, args, pids: dict[str, int], servers: dict[str, int]) -> list[Watched]:
    """Every process whose CPU is counted — our services (with their children), then the
    servers — and, for our services, where their ``/metrics`` are (MongoDB operations):
    each one's ops listener when this run started them, else the ``--*-metrics-url`` given."""
    if stack:
        ops = {c: s.ops_url for c, s in stack.by_component.items()}
    else:
        ops = {
            "command-api": args.command_metrics_url,
            "query-api": args.query_metrics_url,
            "projectors": args.projector_metrics_url,
            "workers": args.workers_metrics_url,
        }
    services = [Watched(c, pids[c], f"{ops[c]}/metrics" if ops.get(c) else None) for c in COMPONENTS if c in pids]
    return services + [Watched(name, pid) for name, pid in servers.items()]


async def _events_since(settings, since) -> int:
    from shared import mongo

    client = mongo.open_mongo(settings)
    try:
        return await events_appended(mongo.database(client, settings), since)
    finally:
        await client.close()


async def _drop_namespace(settings) -> None:
    from shared import mongo
    from shared.kafka import delete_topics_with_prefix

    client = mongo.open_mongo(settings)
    try:
        await client.drop_database(settings.mongodb_database)
    finally:
        await client.close()
    await delete_topics_with_prefix(settings)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("scenario", choices=sorted(SCENARIOS))
    p.add_argument("--seconds", type=float, help="Stretch the scenario to this duration.")
    p.add_argument("--rate", type=float, help="Scale the scenario so its peak is this many requests/s.")
    p.add_argument("--data", help="Seed JSON from `merchant seed --out` (else a small set is made).")
    p.add_argument("--merchants", type=int, default=5)
    p.add_argument(
        "--seed-products",
        type=int,
        default=0,
        help="Seed the run's namespace with `merchant seed` (this many products) first.",
    )
    p.add_argument("--seed-orders", type=int, default=0, help="... and this many orders of history.")
    p.add_argument("--products", type=int, default=1000, help="In total, for the small set.")
    p.add_argument("--components", default=",".join(COMPONENTS))
    p.add_argument("--command-url"), p.add_argument("--query-url"), p.add_argument("--projector-metrics-url")
    p.add_argument(
        "--command-metrics-url", help="A running stack's command API ops listener, e.g. http://127.0.0.1:9001."
    )
    p.add_argument("--query-metrics-url", help="... its query API ops listener (MongoDB operations per read).")
    p.add_argument("--workers-metrics-url", help="... its workers' ops listener (operations per event).")
    p.add_argument("--namespace", help="Database and topic prefix (default load_<scenario>_<time>).")
    p.add_argument("--out", default=str(ROOT / "loadtests" / "results"))
    p.add_argument("--sample-seconds", type=float, default=2.0)
    p.add_argument("--keep", action="store_true", help="Keep the run's database and topics.")
    p.add_argument("--no-check", action="store_true", help="Skip the lost-command check.")
    p.add_argument("--cold", action="store_true", help="No cache warm-up read before the run.")
    p.add_argument("--page-size", type=int, default=20, help="limit= of the storefront lists.")
    p.add_argument("--tour", action="store_true", help="Each user first makes one request of every kind.")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if bool(args.command_url) != bool(args.query_url):
        raise SystemExit("--command-url and --query-url go together")
    result = run(args)
    o = result["overall"]
    return 0 if o["requests"] and o["server_errors_not_503"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
