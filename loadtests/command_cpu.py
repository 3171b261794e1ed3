"""CPU seconds of the command API per 1,000 commands, builds side by side.

    python -m loadtests.command_cpu --build before=/work/main --build after=. --rounds 5

Each ``--build NAME=CHECKOUT`` starts its own ``merchant serve command-api`` (that
checkout's ``.venv/bin/python``, the environment of ``merchant bench``: its namespace, no
rate limits, log level warning) on the shared servers, with a merchant and 64 stocked
products of its own. Rounds alternate between the builds (A B A B ...), so each pair ran in
the same minute under the same load; a round sends ``--commands`` keyed commands of each
kind (create product, adjust stock, place order) from ``--clients`` concurrent
connections, and reads the server process's CPU seconds (psutil, user + system) before and
after. CPU per command is the figure to compare on a shared machine: latency there
measures the neighbours. The topics are removed at the end; the database is left unless
``--drop`` (see its help).

``--profile`` samples each build's server during the last round with py-spy (on PATH;
``--nonblocking``, so the server is never paused — a paused server's store calls time out
and the run measures the timeouts) and prints where each command's CPU went, by bucket
(``BUCKETS``: HTTP stack, our command path, pymongo, aiokafka, the relay...).

Not a benchmark (``merchant bench`` is): a development tool for the command path's cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from shared import mongo
from shared.kafka import delete_topics_with_prefix, ensure_topics
from shared.settings import ServerSettings

from loadtests.bench.commands import requests, stocked_products
from loadtests.raw_http import RawConnection
from merchant_testkit.processes import free_port
from merchant_testkit.stack import NO_RATE_LIMITS

SERVER_ENV = ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL", "REDIS_URL", "SMTP_URL")


@dataclass
class Build:
    name: str
    checkout: Path
    process: subprocess.Popen | None = None
    url: str = ""
    products: list[str] = field(default_factory=list)
    per_command_ms: dict[str, list[float]] = field(default_factory=dict)

    def start(self, env: dict[str, str], log_dir: Path) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        log = (log_dir / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            [str(self.checkout / ".venv/bin/python"), "-m", "merchant_cli.main", "serve", "command-api"]
            + ["--port", str(port), "--metrics-port", str(free_port()), "--log-level", "warning"],
            env={**os.environ, **env, **NO_RATE_LIMITS},
            cwd=self.checkout,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready; see {log_dir / self.name}.log")

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


async def drive(url: str, make, count: int, clients: int) -> int:
    """Send ``count`` requests from ``clients`` connections; how many were answered 202."""
    host, port = url.removeprefix("http://").split(":")
    left, accepted, statuses = count, 0, {}

    async def client() -> None:
        nonlocal left, accepted
        connection = await RawConnection(host, int(port)).open()
        try:
            while left > 0:
                left -= 1
                method, path, body, headers = make()
                status = await connection.request(method, path, body, headers)
                accepted += status == 202
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            connection.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    if accepted != count:
        raise RuntimeError(f"{accepted}/{count} accepted: {statuses}")
    return accepted


# Where a sampled stack's time goes: the first bucket whose marker it holds (outermost
# concerns first: a relay pass or the publisher's work is counted as such, whatever it calls).
BUCKETS = [
    ("relay pass (unpublished read, settlement)", ("Relay.run",)),
    ("published marks", ("_mark_soon", "mark_published")),
    ("Kafka producer (aiokafka)", ("aiokafka",)),
    ("publisher (ours)", ("CommitPublisher",)),
    ("MongoDB driver (pymongo, bson)", ("pymongo", "bson")),
    ("group commit (ours)", ("GroupCommit",)),
    ("metrics (prometheus_client)", ("prometheus_client",)),
    ("pydantic (parse, events, dump)", ("pydantic",)),
    ("command path, our code", ("command_endpoint", "command_api/", "shared/http/auth.py", "shared/http/body.py")),
    ("HTTP framework + middleware", ("RequestResponseCycle", "starlette", "shared/http", "shared/observability/http")),
    ("HTTP parsing (httptools)", ("httptools_impl",)),
]
OTHER = "event loop, sockets, other (uvloop is native: no Python frame)"


def breakdown(stacks: Path, ms_per_command: float) -> list[tuple[str, float, float]]:
    """(bucket, share, µs per command) from py-spy's collapsed stacks, largest first."""
    samples: dict[str, int] = {}
    for line in stacks.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        name = next((b for b, markers in BUCKETS if any(m in stack for m in markers)), OTHER)
        samples[name] = samples.get(name, 0) + int(count)
    total = sum(samples.values()) or 1
    ranked = sorted(samples.items(), key=lambda kv: -kv[1])
    return [(name, n / total, n / total * ms_per_command * 1000) for name, n in ranked]


def profiler(build: Build, kind: str, log_dir: Path) -> subprocess.Popen:
    """py-spy sampling the build's server while this kind runs: collapsed stacks, one
    line per stack with its sample count (``--format raw``)."""
    out = log_dir / f"{build.name}-{kind.split()[0]}-{kind.split()[1]}.txt"
    print(f"profile: {out}")
    spy = subprocess.Popen(
        [
            "py-spy",
            "record",
            "--pid",
            str(build.process.pid),
            "--format",
            "raw",
            "--rate",
            "250",
            "--nonblocking",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # attached before the first request
    return spy


async def main(options: argparse.Namespace) -> None:
    namespace = f"cmdcpu_{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k in SERVER_ENV}
    env |= {"MONGODB_DATABASE": namespace, "KAFKA_TOPIC_PREFIX": f"{namespace}."}
    settings = ServerSettings(**{k.lower(): v for k, v in env.items()})
    client = mongo.open_mongo(settings)
    db = mongo.database(client, settings)
    builds = [Build(name, Path(path).resolve()) for name, path in (b.split("=", 1) for b in options.build)]
    log_dir = Path(tempfile.mkdtemp(prefix="command_cpu_"))
    from command_api.bootstrap import bootstrap

    try:
        await ensure_topics(settings)
        side = bootstrap(db=db)
        await side.prepare()
        merchant = await side.merchants.create("CPU Shop")
        for build in builds:
            build.start(env, log_dir)
            build.products = await stocked_products(build.url, merchant.secret_key)
        profiles: dict[tuple[str, str], tuple[Path, float]] = {}
        for number in range(options.rounds + 1):  # round 0 warms every path up, uncounted
            for build in builds if number % 2 else reversed(builds):
                commands = requests(merchant.secret_key, merchant.publishable_key, build.products)
                for kind, make in commands.items():
                    if options.only and not any(o in kind for o in options.only):
                        continue
                    spy = profiler(build, kind, log_dir) if options.profile and number == options.rounds else None
                    before = build.cpu_seconds()
                    ok = await drive(build.url, make, options.commands, options.clients)
                    spent = build.cpu_seconds() - before
                    if spy is not None:
                        spy.send_signal(signal.SIGINT)
                        spy.wait(timeout=60)
                        profiles[(build.name, kind)] = (Path(spy.args[-1]), spent / ok * 1000)
                    if ok != options.commands:
                        raise RuntimeError(f"{build.name} {kind}: {ok}/{options.commands} accepted")
                    if number:
                        build.per_command_ms.setdefault(kind, []).append(spent / ok * 1000)
        print(
            f"load average {os.getloadavg()}; {options.commands} commands × {options.rounds} rounds, "
            f"{options.clients} clients; ms of server CPU per command, median [min–max]"
        )
        for build in builds:
            for kind, values in build.per_command_ms.items():
                print(
                    f"  {build.name:8} {kind:22} {statistics.median(values):6.3f} [{min(values):.3f}–{max(values):.3f}]"
                )
        for (name, kind), (stacks, ms) in profiles.items():
            print(f"{name}, {kind}: {ms:.3f} ms of CPU per command, sampled (py-spy, nonblocking)")
            for bucket, share, micros in breakdown(stacks, ms):
                print(f"  {share * 100:5.1f} %  {micros:5.0f} µs  {bucket}")
    finally:
        for build in builds:
            build.stop()
        await delete_topics_with_prefix(settings)
        if options.drop:
            await asyncio.sleep(15)  # FerretDB finishing the stopped servers' last queries first
            await client.drop_database(namespace)
        else:
            print(f"left database {namespace} (drop it once nothing queries it)")
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", action="append", required=True, help="NAME=CHECKOUT (its .venv runs it)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--commands", type=int, default=1000, help="Per kind and round.")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--drop",
        action="store_true",
        help="Drop the database at the end. On FerretDB 1.24 a drop queued behind a query the stopped "
        "server left running blocked the whole server once (2026-12-06): off unless asked.",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the last round (needs py-spy on PATH).")
    parser.add_argument("--only", action="append", help="Kinds whose name holds this (repeatable).")
    asyncio.run(main(parser.parse_args()))
