"""``merchant dev``: the whole product on local servers, in the foreground.

Starts the servers that are not running yet, a demo merchant (created once, its keys
kept under the infra folder), and every component as a child process; prints where to
point a browser or client. Ctrl-C stops the components and the servers it started —
servers that were already up before stay up.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import typer

COMPONENTS = ("command-api", "query-api", "projectors", "workers")


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


def _start_components(env: dict[str, str]) -> dict[str, subprocess.Popen[bytes]]:
    return {
        name: subprocess.Popen([sys.executable, "-m", "merchant_cli.main", "serve", name], env=env)
        for name in COMPONENTS
    }


def _wait_ready(urls: list[str], children: dict[str, subprocess.Popen[bytes]], timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        for name, child in children.items():
            if child.poll() is not None:
                raise RuntimeError(f"{name} exited with code {child.returncode}")
        try:
            if httpx.get(f"{pending[0]}/health/ready", timeout=1).status_code == 200:
                pending.pop(0)
                continue
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    if pending:
        raise RuntimeError(f"not ready after {timeout:.0f} s: {', '.join(pending)}")


def _interrupt_on(*signals: int) -> None:
    """Ctrl-C and SIGTERM both stop cleanly (a background shell may have ignored SIGINT)."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    for sig in signals:
        signal.signal(sig, interrupt)


def _stop(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children.values():
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()


def dev(keep_servers: bool = typer.Option(False, help="Leave the servers running on exit.")) -> None:
    from shared.settings import CommandApiSettings, QueryApiSettings

    from infra import manager, paths

    already_up = {s.name for s in manager.status() if s.state in ("running", "external") and s.healthy}
    typer.echo("Starting the servers (first run installs them; later runs take seconds)...")
    manager.up(progress=lambda name, message: typer.echo(f"  {name}: {message}"))
    started_servers = [n for n in manager.NAMES if n not in already_up]

    env = {**os.environ, **manager.environment()}
    os.environ.update(manager.environment())
    demo = asyncio.run(_demo_merchant(paths.run() / "demo-merchant.json"))
    command_url = f"http://{CommandApiSettings().host}:{CommandApiSettings().port}"
    query_url = f"http://{QueryApiSettings().host}:{QueryApiSettings().port}"

    children = _start_components(env)
    _interrupt_on(signal.SIGINT, signal.SIGTERM)
    try:
        _wait_ready([command_url, query_url], children)
        typer.echo(_banner(demo, command_url, query_url, paths.logs()))
        while all(child.poll() is None for child in children.values()):
            time.sleep(0.5)
        failed = [n for n, c in children.items() if c.poll() is not None]
        typer.echo(f"stopped: {', '.join(failed)} exited", err=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        typer.echo("\nStopping...")
    finally:
        _stop(children)
        if not keep_servers and started_servers:
            manager.down(started_servers)


def _banner(demo: dict[str, str], command_url: str, query_url: str, logs: Path) -> str:
    key = demo["secret_key"]
    product = (
        '{"sku":"TEE-1","name":"T-shirt","category":"apparel","price":{"amount":1999,"currency":"EUR"},"stock":10}'
    )
    return f"""
Merchant backend is running.

  Command API  {command_url}      (POST commands; health: {command_url}/health/ready)
  Query API    {query_url}      (GET read models; health: {query_url}/health/ready)
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
