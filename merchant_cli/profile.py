"""``merchant profile cpu|memory|loop <component>``: run a component in this process for a
while, profiled, and write a report a person can open.

- ``cpu``: pyinstrument samples the process's main thread (the event loop) → an HTML
  call tree (``open profile-cpu-*.html``). ``--pid`` profiles an already running process
  with py-spy instead (``pip install py-spy``; needs ptrace rights) → a speedscope file.
- ``memory``: tracemalloc from start-up on; after the run, the allocation sites that grew
  most (by line, and the full stack of the top ones) and the RSS trend → a text file.
- ``loop``: asyncio debug mode reports every callback that held the loop longer than
  ``--slow-ms``, and a 10 ms probe measures how late timers fire (p50/p95/p99/max) → text.

Send traffic meanwhile (``merchant bench``, locust, curl), or let ``--hit PATH`` request a
path of an HTTP component in a loop from a helper thread.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import shutil
import subprocess
import threading
import tracemalloc
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from merchant_cli.serve import _APPS, Component

if TYPE_CHECKING:
    from faststream import FastStream

app = typer.Typer(no_args_is_help=True)
Run = Callable[[], Coroutine[Any, Any, None]]  # the component's run, for the profiler to wrap


class Kind(enum.StrEnum):
    cpu = "cpu"
    memory = "memory"
    loop = "loop"


async def _run_component(component: Component, seconds: float, port: int, ready: threading.Event) -> None:
    """Start the component in this event loop, keep it running ``seconds``, stop it cleanly."""
    if component in _APPS:
        import uvicorn

        target, _ = _APPS[component]
        server = uvicorn.Server(
            uvicorn.Config(target, factory=True, port=port, log_config=None, access_log=False, lifespan="on")
        )
        serving = asyncio.create_task(server._serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.05)
        ready.set()
        await asyncio.sleep(seconds)
        server.should_exit = True
        await serving
    else:
        stream: FastStream
        if component is Component.projectors:
            from projectors.entrypoints.app import create_app as projectors_app

            stream = projectors_app()
        else:
            from workers.entrypoints.app import create_app as workers_app

            stream = workers_app()
        await stream.start()
        ready.set()
        try:
            await asyncio.sleep(seconds)
        finally:
            await stream.stop()


def _preload(component: Component) -> None:
    """Import the component before profiling: imports are start-up cost, not what we
    profile — and under tracemalloc they are very slow."""
    import importlib

    import uvicorn  # noqa: F401

    module = _APPS[component][0].split(":")[0] if component in _APPS else f"{component.value}.entrypoints.app"
    importlib.import_module(module)


def _hit(base: str, paths: list[str], ready: threading.Event, stop: threading.Event) -> None:
    import httpx

    ready.wait()
    with httpx.Client(base_url=base, timeout=5) as client:
        while not stop.is_set():
            for path in paths:
                try:
                    client.get(path)
                except httpx.HTTPError:
                    pass


def _out(out_dir: Path, kind: str, component: Component, suffix: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return out_dir / f"profile-{kind}-{component.value}-{stamp}.{suffix}"


def profile(
    kind: Kind = typer.Argument(..., help="cpu, memory or loop."),
    component: Component = typer.Argument(..., help="Which component to run and profile."),
    seconds: float = typer.Option(30.0, help="How long to run it."),
    out: Path = typer.Option(Path("profiles"), help="Folder for the report."),
    port: int = typer.Option(8090, help="Port for an HTTP component while profiled."),
    hit: list[str] = typer.Option([], help="HTTP components: GET this path in a loop meanwhile."),
    slow_ms: float = typer.Option(50.0, help="loop: report callbacks longer than this."),
    pid: int | None = typer.Option(None, help="cpu: profile this running process with py-spy."),
) -> None:
    from shared.observability.logs import configure_logging

    configure_logging("text", "WARNING")
    if pid is not None:
        raise typer.Exit(_py_spy(pid, seconds, _out(out, "cpu", component, "speedscope.json")))
    _preload(component)
    ready, stop = threading.Event(), threading.Event()
    if hit and component in _APPS:
        threading.Thread(target=_hit, args=(f"http://127.0.0.1:{port}", hit, ready, stop), daemon=True).start()
    runner = {Kind.cpu: _cpu, Kind.memory: _memory, Kind.loop: _loop}[kind]
    try:
        path = runner(lambda: _run_component(component, seconds, port, ready), out, component, slow_ms)
    finally:
        stop.set()
    typer.echo(f"wrote {path}")


def _cpu(run: Run, out: Path, component: Component, slow_ms: float) -> Path:
    from pyinstrument import Profiler

    # async_mode "disabled": sample the loop's thread whatever task runs — a server's
    # profile is the whole loop, not one coroutine.
    profiler = Profiler(interval=0.001, async_mode="disabled")
    profiler.start()
    try:
        asyncio.run(run())
    finally:
        profiler.stop()
    path = _out(out, "cpu", component, "html")
    path.write_text(profiler.output_html())
    typer.echo(profiler.output_text(unicode=True, color=False, show_all=False)[:4000])
    return path


def _memory(run: Run, out: Path, component: Component, slow_ms: float) -> Path:
    from shared.observability.memory import MB, MemoryMonitor

    monitor = MemoryMonitor(window=3, alert_callbacks=[])
    tracemalloc.start(10)
    monitor.start_tracing(10)

    async def sampled() -> None:
        async def sample_forever() -> None:
            while True:
                monitor.sample()
                await asyncio.sleep(1.0)

        sampler = asyncio.create_task(sample_forever())
        try:
            await run()
        finally:
            sampler.cancel()

    asyncio.run(sampled())
    snapshot = tracemalloc.take_snapshot()
    lines = [
        f"memory profile of {component.value}",
        f"RSS now {monitor.report()['rss_bytes'] / MB:.1f} MB, "
        f"trend {monitor.trend().bytes_per_minute / MB:+.2f} MB/min",
        "",
        "allocation sites that grew most since start-up (by line):",
    ]
    for site in monitor.top_allocations(30):
        lines.append(f"  {site['size_diff_bytes'] / 1024:+10.1f} KiB {site['count_diff']:+8d} blocks  {site['site']}")
    lines += ["", "full stacks of the three largest live allocation sites:"]
    for stat in snapshot.statistics("traceback")[:3]:
        lines.append(f"  {stat.size / 1024:.1f} KiB in {stat.count} blocks")
        lines += [f"    {frame}" for frame in stat.traceback.format()]
    monitor.stop_tracing()
    path = _out(out, "memory", component, "txt")
    path.write_text("\n".join(lines) + "\n")
    typer.echo("\n".join(lines[:40]))
    return path


def _loop(run: Run, out: Path, component: Component, slow_ms: float) -> Path:
    from shared.observability.runtime import LoopLagProbe

    slow: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "took" in record.getMessage():
                slow.append(record.getMessage())

    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.addHandler(collector := Collect())
    asyncio_log.setLevel(logging.WARNING)
    probe = LoopLagProbe(interval=0.01)
    probe.keep_samples = True

    async def probed() -> None:
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = slow_ms / 1000
        task = asyncio.create_task(probe.run())
        try:
            await run()
        finally:
            task.cancel()

    try:
        asyncio.run(probed())
    finally:
        asyncio_log.removeHandler(collector)
    lags = sorted(probe.samples) or [0.0]

    def pct(p: float) -> float:
        return lags[min(len(lags) - 1, int(p * len(lags)))] * 1000

    lines = [
        f"event-loop profile of {component.value} ({len(lags)} probes, every 10 ms)",
        f"timer lateness ms: p50 {pct(0.5):.2f}  p95 {pct(0.95):.2f}  p99 {pct(0.99):.2f}  max {lags[-1] * 1000:.2f}",
        "",
        f"callbacks that held the loop longer than {slow_ms:.0f} ms: {len(slow)}",
        *slow[:200],
    ]
    path = _out(out, "loop", component, "txt")
    path.write_text("\n".join(lines) + "\n")
    typer.echo("\n".join(lines[:30]))
    return path


def _py_spy(pid: int, seconds: float, path: Path) -> int:
    exe = shutil.which("py-spy")
    if exe is None:
        typer.echo("py-spy is not installed: pip install py-spy (or profile in-process without --pid)", err=True)
        return 2
    code = subprocess.call(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--format",
            "speedscope",
            "--output",
            str(path),
        ]
    )
    if code == 0:
        typer.echo(f"wrote {path} (open it at https://www.speedscope.app)")
    return code
