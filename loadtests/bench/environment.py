"""What one benchmark run owns: a namespace (database, topics, Redis keys), the processes
under test, and their logs; all removed at the end, whatever happened.

The servers are those of ``merchant infra env`` (or the variables already set); the run
never touches other namespaces, so it can share the servers with test suites.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from shared import mongo
from shared.kafka import delete_topics_with_prefix, ensure_topics
from shared.redis import open_redis
from shared.settings import ServerSettings

from loadtests.bench.memory import MemoryMonitor
from merchant_testkit.processes import Service, free_port, http_service, stream_service
from merchant_testkit.stack import NO_RATE_LIMITS

ROOT = Path(__file__).resolve().parents[2]
# Benchmarks measure the code, not the limits that protect it in production (docs/security.md).
NO_LIMITS = NO_RATE_LIMITS


class UvicornService(Service):
    """A baseline app under uvicorn (one process, no access log), like ``merchant serve``."""

    def start(self) -> UvicornService:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", *self.args, "--log-level", "warning", "--no-access-log"],
            env={**os.environ, **self.env},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self


@dataclass
class BenchEnv:
    namespace: str
    env: dict[str, str]  # for the processes under test
    settings: ServerSettings
    log_dir: Path
    memory: MemoryMonitor
    zero: float  # perf_counter() when the run began: the time axis of every plot
    db: object = None
    redis: object = None
    services: list[Service] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # service name -> label in the memory plot
    topics_created: bool = False
    shared: dict = field(default_factory=dict)  # what several groups reuse (the seeded catalogue)

    async def ensure_topics(self) -> None:
        if not self.topics_created:
            await ensure_topics(self.settings)
            self.topics_created = True

    def serve(
        self,
        component: str,
        label: str,
        *,
        log_level: str | None = "warning",
        args: tuple[str, ...] = (),
        **extra_env: str,
    ) -> Service:
        """``merchant serve <component>``, ready, its RSS watched under ``label``; a log file
        of its own each time (``<label>-<n>.log``)."""
        env = {**self.env, **NO_LIMITS, **extra_env}
        make = http_service if component in ("command-api", "query-api") else stream_service
        service = make(f"{label.replace(' ', '_')}-{len(self.labels)}", component, env, self.log_dir)
        service.args += [*(["--log-level", log_level] if log_level else []), *args]
        return self._started(service, label)

    def uvicorn(self, app_factory: str, label: str, **extra_env: str) -> Service:
        port = free_port()
        name = f"{label.replace(' ', '_')}-{len(self.labels)}"
        service = UvicornService(
            name,
            [app_factory, "--factory", "--port", str(port)],
            {**self.env, **extra_env},
            self.log_dir / f"{name}.log",
            url=f"http://127.0.0.1:{port}",
        )
        return self._started(service, label)

    def _started(self, service: Service, label: str) -> Service:
        self.services.append(service)
        self.labels[service.name] = label
        service.start().wait_ready(timeout=90)
        self.memory.watch(label, service.process.pid)
        return service

    def stop(self, service: Service) -> None:
        self.memory.sample()  # the last RSS before it goes
        self.memory.forget(self.labels[service.name])
        self.services.remove(service)
        try:
            service.stop()
        except subprocess.TimeoutExpired:  # stuck in shutdown (a server that no longer answers)
            service.kill()


@asynccontextmanager
async def bench_env() -> AsyncIterator[BenchEnv]:
    namespace = f"bench_{uuid.uuid4().hex[:10]}"
    env = {
        k: v for k, v in os.environ.items() if k in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL", "REDIS_URL", "SMTP_URL")
    }
    env |= {"MONGODB_DATABASE": namespace, "KAFKA_TOPIC_PREFIX": f"{namespace}."}
    settings = ServerSettings(**{k.lower(): v for k, v in env.items()})
    zero = time.perf_counter()
    client = mongo.open_mongo(settings)
    with MemoryMonitor(zero) as memory:
        bench = BenchEnv(
            namespace,
            env,
            settings,
            Path(tempfile.mkdtemp(prefix="merchant_bench_")),
            memory,
            zero,
            mongo.database(client, settings),
            open_redis(settings),
        )
        # without children: they are the processes under test, watched on their own
        memory.watch("bench client (this process)", os.getpid(), children=False)
        try:
            yield bench
        finally:
            for service in list(bench.services):
                bench.stop(service)
            await client.drop_database(namespace)
            await client.close()
            keys = [k async for k in bench.redis.scan_iter(f"{namespace}.*")]
            if keys:
                await bench.redis.delete(*keys)
            await bench.redis.aclose()
            if bench.topics_created:
                await delete_topics_with_prefix(settings)
