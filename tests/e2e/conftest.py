"""The e2e suite runs the whole stack from the test kit's fixtures (``stack``,
``merchant``, ``command_client``, ``query_client`` — see merchant_testkit/plugin.py).

At the end of the session every event the suite made the stack publish is checked from
outside — kcat + JSON Schema, ``scripts/validate_events.py`` — against the schemas
published in docs/events/. One invalid event fails the session.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest_asyncio

from shared.topics import DOMAIN_TOPICS

from merchant_testkit.stack import Stack

__all__ = ["Stack"]  # tests importing Stack from here keep working
VALIDATOR = Path(__file__).resolve().parents[2] / "scripts" / "validate_events.py"


@pytest_asyncio.fixture(scope="session", loop_scope="session", autouse=True)
async def published_events_match_their_schemas(settings, mongo_db, tmp_path_factory):
    """Teardown runs after every e2e test, before ``settings`` deletes the topics.

    Checked: the events of the session's real merchants (other suites put hand-made,
    sometimes deliberately malformed, messages on the same topics). Not vacuous: every
    event of a commit the event store holds published for them (no outbox entry left)
    must be found on the topics.
    """
    yield
    merchants = sorted({k["merchant_id"] async for k in mongo_db["api_keys"].find({}, {"merchant_id": 1})})
    unpublished = {e["_id"] async for e in mongo_db["outbox"].find({}, {"_id": 1})}
    expected = [
        e["event_id"]
        async for c in mongo_db["commits"].find(
            {"merchant_id": {"$in": merchants}, "published": {"$ne": False}}, {"events.event_id": 1}
        )
        if c["_id"] not in unpublished
        for e in c["events"]
    ]
    ids = tmp_path_factory.mktemp("contract") / "expected_event_ids.txt"
    ids.write_text("\n".join(expected))
    topics = [arg for t in DOMAIN_TOPICS for arg in ("--topic", settings.topic(t))]
    merchant_args = [arg for m in merchants for arg in ("--merchant", m)] or ["--merchant", "<none>"]
    done = subprocess.run(
        [
            sys.executable,
            str(VALIDATOR),
            "--bootstrap",
            settings.kafka_bootstrap_servers,
            *topics,
            *merchant_args,
            "--expect-ids",
            str(ids),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(f"\nevent contract check (kcat + JSON Schema):\n{done.stdout}")
    assert done.returncode == 0, f"published events do not match docs/events/:\n{done.stdout}{done.stderr}"
