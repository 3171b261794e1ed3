"""docker-compose's ``kafka-init`` creates every topic the product uses, with the
partitions the processes would give it (auto-creation is off in that broker)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from shared.settings import ServerSettings
from shared.topics import DOMAIN_TOPIC_PARTITIONS, DOMAIN_TOPICS

from projectors.entrypoints.app import dead_letter_topic
from projectors.entrypoints.streams import STREAMS
from workers.application.jobs import JOB_TOPIC_PARTITIONS, all_job_topics

COMPOSE = Path(__file__).resolve().parents[2] / "infra" / "docker-compose.yml"


def compose_topics() -> dict[str, int]:
    """Run kafka-init's script with ``echo`` for kafka-topics.sh: topic → partitions."""
    script = yaml.safe_load(COMPOSE.read_text())["services"]["kafka-init"]["command"][0]
    script = script.replace("$$", "$").replace("/opt/kafka/bin/kafka-topics.sh", "echo")
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
    return {m[1]: int(m[2]) for m in re.finditer(r"--topic (\S+) --partitions (\d+)", out)}


def product_topics() -> dict[str, int]:
    settings = ServerSettings()  # no prefix, as in compose
    return {
        **dict.fromkeys(DOMAIN_TOPICS, DOMAIN_TOPIC_PARTITIONS),
        **{dead_letter_topic(settings.topic(s.topic)): 1 for s in STREAMS},
        **dict.fromkeys(all_job_topics(settings), JOB_TOPIC_PARTITIONS),
    }


def test_compose_creates_every_topic_with_its_partitions():
    assert compose_topics() == product_topics()
