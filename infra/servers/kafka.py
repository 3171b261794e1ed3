"""Apache Kafka 4: one KRaft node (broker and controller) run from Maven Central jars.

Maven is the only way to fetch Kafka on these machines (no Apache download site), so
``install`` gathers the broker's runtime jars with the dependency plugin; ``start`` runs
``kafka.Kafka`` from them with our ``server.properties``.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from infra import paths, process
from infra.process import InfraError

NAME = "kafka"
HOST = "127.0.0.1"
PORT = paths.port("MERCHANT_KAFKA_PORT", 9092)
CONTROLLER_PORT = paths.port("MERCHANT_KAFKA_CONTROLLER_PORT", 9093)
PORTS = (PORT, CONTROLLER_PORT)
address = f"{HOST}:{PORT}"
START_TIMEOUT = 90.0  # a cold JVM on two busy cores can take a while


def version() -> str:
    """The Kafka version pinned in infra/kafka/pom.xml (the single place to change it)."""
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", paths.source("kafka", "pom.xml").read_text())
    if not match:
        raise InfraError("infra/kafka/pom.xml has no <kafka.version>")
    return match.group(1)


def _install_dir() -> Path:
    return paths.artifacts() / f"kafka-{version()}"


def _markers() -> tuple[str, ...]:
    return ("kafka.Kafka", str(paths.data(NAME)))


def _tool(name: str) -> str:
    java_home = os.environ.get("JAVA_HOME")
    if name == "java" and java_home and Path(java_home, "bin", "java").exists():
        return str(Path(java_home, "bin", "java"))
    found = shutil.which(name)
    if not found:
        raise InfraError(f"`{name}` is not installed (Kafka needs Java 17+ and Maven)")
    return found


def installed() -> bool:
    return (_install_dir() / ".complete").exists()


def install() -> Path:
    """Gather the Kafka jars into artifacts/kafka-<version>/libs (cached). Returns libs/."""
    target = _install_dir()
    if installed():
        return target / "libs"
    # Build into a side folder and rename, so an interrupted download never looks complete.
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    result = subprocess.run(
        [
            _tool("mvn"),
            "-q",
            "-B",
            "-f",
            str(paths.source("kafka", "pom.xml")),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={partial / 'libs'}",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise InfraError(f"maven could not fetch the Kafka jars:\n{(result.stdout + result.stderr)[-3000:]}")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    (target / ".complete").touch()
    return target / "libs"


def _cluster_id(folder: Path) -> str:
    """The cluster id, made once and kept next to the data it was formatted with."""
    stored = folder / "cluster.id"
    if stored.exists():
        return stored.read_text().strip()
    while True:  # as Kafka's Uuid.randomUuid(): 22 chars of URL-safe base64, no leading '-'
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            break
    stored.write_text(cid + "\n")
    return cid


def _configure(folder: Path) -> Path:
    """Write server.properties for this data folder from the template."""
    template = paths.source("kafka", "server.properties").read_text()
    text = re.sub(r"(?m)^log\.dirs=.*$", f"log.dirs={folder / 'data'}", template)
    text = text.replace(":9092", f":{PORT}").replace(":9093", f":{CONTROLLER_PORT}")
    props = folder / "server.properties"
    props.write_text(text)
    return props


def _java_args(libs: Path, *jvm_options: str) -> list[str]:
    return [
        _tool("java"),
        *jvm_options,
        f"-Dlog4j2.configurationFile={paths.source('kafka', 'log4j2.properties')}",
        f"-Dkafka.logs.dir={paths.logs()}",
        "-cp",
        f"{libs}/*",
    ]


def _format(libs: Path, folder: Path, props: Path) -> None:
    """Format the storage once; a formatted folder keeps its cluster id and topics."""
    if (folder / "data" / "meta.properties").exists():
        return
    cid = _cluster_id(folder)
    log = paths.log_file(NAME)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        result = subprocess.run(
            [*_java_args(libs), "kafka.tools.StorageTool", "format", "-t", cid, "-c", str(props), "-g"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
    if result.returncode != 0:
        raise InfraError(f"formatting Kafka storage failed; see {log}\n{process.tail(log)}")


def pid() -> int | None:
    return process.read_pid(NAME, _markers())


def start(timeout: float = START_TIMEOUT) -> int:
    """Start the broker, wait until it answers metadata, create the domain topics."""
    if not installed():
        raise InfraError("Kafka is not installed; run `merchant infra install`")
    libs = _install_dir() / "libs"
    folder = paths.data(NAME)
    folder.mkdir(parents=True, exist_ok=True)
    props = _configure(folder)
    _format(libs, folder, props)
    argv = [*_java_args(libs, "-Xms256m", "-Xmx1g", "-XX:+ExitOnOutOfMemoryError"), "kafka.Kafka", str(props)]
    started = process.start_and_wait(NAME, argv, _markers(), health, timeout, cwd=folder)
    setup()
    return started


def setup() -> list[str]:
    """Create the domain topics (shared.topics; 6 partitions, kept forever) if missing.

    Idempotent; also run against an external Kafka (docker-compose), which is ours to use.
    """
    from shared.kafka import ensure_topics

    settings = _settings()
    return process.run_sync(lambda: ensure_topics(settings))


def _settings():
    """The project's settings aimed at this broker (the topic prefix still comes from the env)."""
    from shared.settings import ServerSettings

    return ServerSettings(kafka_bootstrap_servers=address)


def stop() -> int | None:
    # Kafka shuts down cleanly on SIGTERM (flushes, closes the log); give it time.
    return process.stop(NAME, _markers(), timeout=45)


async def _probe() -> list[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=address, request_timeout_ms=3000)
    try:
        await admin.start()
        return await admin.list_topics()
    finally:
        try:
            await admin.close()
        except Exception:
            pass  # closing a client that never connected may fail; nothing to release


def health() -> tuple[bool, str]:
    """Healthy means a metadata request succeeds (an open port proves nothing yet)."""
    if not process.port_open(HOST, PORT):
        return False, f"nothing listens on {address}"  # skips aiokafka's noisy connect errors
    try:
        topics = process.run_sync(_probe)
    except Exception as exc:
        return False, f"metadata request failed: {type(exc).__name__}: {exc}"
    from shared.topics import DOMAIN_TOPICS

    settings = _settings()
    missing = [settings.topic(t) for t in DOMAIN_TOPICS if settings.topic(t) not in topics]
    return True, f"metadata ok; missing topics: {', '.join(missing)}" if missing else "metadata ok, topics present"
