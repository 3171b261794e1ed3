"""``merchant dev``: the whole product on local servers, in the foreground (``make run``).

Starts the servers that are not running yet, a demo merchant (created once, its keys
kept under the infra folder), and every component as a child process, and prints the
banner with the URLs and keys **last**: once every component answers ready — the stream
components on their metrics ports too — and their start-up output has gone quiet.

Written for a person at a terminal: the components log text (our services at INFO, the
libraries at WARNING; ``MERCHANT_LOG_FORMAT`` / ``MERCHANT_LOG_LIBRARY_LEVEL`` override),
each line prefixed with its component. The children run in sessions of their own, so
Ctrl-C reaches this process only, which stops them with one SIGTERM each (graceful:
consumers and producers closed) and waits; a child still running after 15 s is killed.
The servers it started are stopped too; servers that were already up stay up.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import FrameType
from typing import IO

import httpx
import typer

COMPONENTS = ("command-api", "query-api", "projectors", "workers")
# Each component's ops listener (/metrics, /ops/*; 127.0.0.1), on its usual port if free.
OPS_PORTS = {"command-api": 9001, "query-api": 9002, "projectors": 9101, "workers": 9111}
STREAMS = ("projectors", "workers")  # ready when their ops listener says so
QUIET_SECONDS = 1.5  # no output for this long after ready: start-up is over
STOP_SECONDS = 15.0


async def _demo_merchant(path: Path) -> dict[str, str]:
    from merchant_cli.merchants import create, exists

    if path.exists():
        saved: dict[str, str] = json.loads(path.read_text())
        if await exists(saved["merchant_id"]):
            return saved
    created = await create("Demo Shop")
    path.write_text(json.dumps(created, indent=2))
    path.chmod(0o600)
    return created


def dev_environment(base: dict[str, str]) -> dict[str, str]:
    """The children's environment: text logs for a person, libraries quiet — unless set."""
    return {"MERCHANT_LOG_FORMAT": "text", "MERCHANT_LOG_LIBRARY_LEVEL": "WARNING", **base}


def port_or_free(preferred: int) -> int:
    """``preferred`` if nothing listens there, else a free port (another stack may run)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])


class Output:
    """The children's lines, prefixed with their component, and when the last one came."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream, self.lock, self.last = stream, threading.Lock(), time.monotonic()
        self.width = max(map(len, COMPONENTS))

    def relay(self, name: str, pipe: IO[bytes]) -> threading.Thread:
        def run() -> None:
            for raw in pipe:
                self.write(f"{name:<{self.width}} | {raw.decode(errors='replace').rstrip()}")

        thread = threading.Thread(target=run, name=f"output-{name}", daemon=True)
        thread.start()
        return thread

    def write(self, text: str) -> None:
        with self.lock:
            self.last = time.monotonic()
            print(text, file=self.stream, flush=True)

    def wait_quiet(self, seconds: float = QUIET_SECONDS, at_most: float = 15.0) -> None:
        deadline = time.monotonic() + at_most
        while time.monotonic() - self.last < seconds and time.monotonic() < deadline:
            time.sleep(0.1)


def _start_components(env: dict[str, str], metrics_ports: dict[str, int]) -> dict[str, subprocess.Popen[bytes]]:
    children = {}
    for name in COMPONENTS:
        extra = {"MERCHANT_METRICS_PORT": str(metrics_ports[name])} if name in metrics_ports else {}
        children[name] = subprocess.Popen(
            [sys.executable, "-m", "merchant_cli.main", "serve", name],
            env={**env, **extra},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches `merchant dev`, which stops them in order
        )
    return children


def settled(answer: httpx.Response) -> bool:
    """Ready, and (a stream component) every consumer has its partitions: the groups have
    joined, so their rebalancing chatter is over before the banner."""
    if answer.status_code != 200:
        return False
    consumers = answer.json().get("consumers")
    return consumers is None or consumers["assigned"] >= consumers["subscribed"]


def _wait_ready(urls: Iterable[str], children: dict[str, subprocess.Popen[bytes]], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        for name, child in children.items():
            if child.poll() is not None:
                raise RuntimeError(f"{name} exited with code {child.returncode}")
        try:
            if settled(httpx.get(f"{pending[0]}/health/ready", timeout=1)):
                pending.pop(0)
                continue
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    if pending:
        raise RuntimeError(f"not ready after {timeout:.0f} s: {', '.join(pending)}")


def _interrupt_on(*signals: int) -> None:
    """Ctrl-C, SIGTERM and a closed terminal all stop cleanly."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    for sig in signals:
        signal.signal(sig, interrupt)


def _stop(children: dict[str, subprocess.Popen[bytes]], relays: list[threading.Thread]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for child in children.values():
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    for relay in relays:
        relay.join(timeout=2)


def dev(keep_servers: bool = typer.Option(False, help="Leave the servers running on exit.")) -> None:
    from shared.settings import CommandApiSettings, QueryApiSettings

    from infra import manager, paths

    started_servers = manager.to_be_started(manager.status())  # only these are stopped on exit
    typer.echo("Starting the servers (first run installs them; later runs take seconds)...")
    manager.up(progress=lambda name, message: typer.echo(f"  {name}: {message}"))

    env = dev_environment({**os.environ, **manager.environment()})
    os.environ.update(manager.environment())
    demo = asyncio.run(_demo_merchant(paths.run() / "demo-merchant.json"))
    command_url = f"http://{CommandApiSettings().host}:{CommandApiSettings().port}"
    query_url = f"http://{QueryApiSettings().host}:{QueryApiSettings().port}"
    metrics_ports = {name: port_or_free(port) for name, port in OPS_PORTS.items()}

    typer.echo("Starting the components...")
    output = Output(sys.stdout)
    _interrupt_on(signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    children: dict[str, subprocess.Popen[bytes]] = {}
    relays: list[threading.Thread] = []
    try:
        children = _start_components(env, metrics_ports)
        relays = [output.relay(name, child.stdout) for name, child in children.items() if child.stdout]
        streams = [f"http://127.0.0.1:{metrics_ports[name]}" for name in STREAMS]
        _wait_ready([command_url, query_url, *streams], children)
        output.wait_quiet()
        output.write(_banner(demo, command_url, query_url, metrics_ports, paths.logs()))
        while all(child.poll() is None for child in children.values()):
            time.sleep(0.5)
        failed = [n for n, c in children.items() if c.poll() is not None]
        output.write(f"stopped: {', '.join(failed)} exited")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        output.write("\nStopping...")
    except RuntimeError as exc:  # a component did not start: say so, without a traceback
        output.write(f"merchant dev: {exc}")
        raise typer.Exit(1) from None
    finally:
        _stop(children, relays)
        if not keep_servers and started_servers:
            manager.down(started_servers)
    output.write("Stopped.")


def _banner(demo: dict[str, str], command_url: str, query_url: str, metrics: dict[str, int], logs: Path) -> str:
    key = demo["secret_key"]
    product = (
        '{"sku":"TEE-1","name":"T-shirt","category":"apparel","price":{"amount":1999,"currency":"EUR"},"stock":10}'
    )
    return f"""
Merchant backend is running.

  Command API  {command_url}      (POST commands; health: {command_url}/health/ready)
  Query API    {query_url}      (GET read models; health: {query_url}/health/ready)
  Ops (local)  /metrics, /ops/memory on 127.0.0.1: command API :{metrics["command-api"]},
               query API :{metrics["query-api"]}, projectors :{metrics["projectors"]}, workers :{metrics["workers"]}
  Server logs  {logs}

Demo merchant {demo["merchant_id"]}
  secret key (dashboards):       {key}
  publishable key (storefronts): {demo["publishable_key"]}

Try it:
  curl -s -X POST {command_url}/v1/products -H 'Authorization: Bearer {key}' \\
       -H 'Content-Type: application/json' \\
       -d '{product}'
  curl -s {query_url}/v1/products/<id from the answer>

Ctrl-C stops everything this command started.
"""
