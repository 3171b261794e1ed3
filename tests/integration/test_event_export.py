"""``merchant events export`` against the real store: what DuckDB and pandas read back
equals what the event store holds, per type; old schema versions come out upcast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import duckdb
import pandas
import pyarrow.parquet as pq
import pytest

from shared import mongo
from shared.events import EventEnvelope

from merchant_testkit.history import write_history

pytestmark = pytest.mark.integration

EVENTS = 1_000  # the 100,000-event run is loadtests/export_events.py
START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
async def export_env(server_env, settings):
    """A database of its own holding a synthetic history of ``EVENTS`` events."""
    database = f"{settings.mongodb_database}_export"
    client = mongo.open_mongo(settings)
    db = client[database]
    written = await write_history(db, EVENTS, merchant_id="m-export", start=START)
    yield {"env": {**os.environ, **server_env, "MONGODB_DATABASE": database}, "db": db, "written": written}
    await client.drop_database(database)
    await client.close()


@pytest.fixture(scope="module")
def parquet_export(export_env, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "events.parquet"
    export(export_env["env"], out, "parquet")
    return out


def export(env: dict, out, fmt: str, *extra: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "merchant_cli.main", "events", "export", "--out", str(out), "--format", fmt, *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def store_counts(db) -> dict[str, int]:
    """Events per type as the store itself counts them (server-side $unwind + $group)."""
    pipeline = [{"$unwind": "$events"}, {"$group": {"_id": "$events.type", "n": {"$sum": 1}}}]
    return {row["_id"]: row["n"] async for row in await db["commits"].aggregate(pipeline)}


async def test_parquet_export_counts_match_the_event_store(export_env, parquet_export):
    out = parquet_export
    counted = dict(duckdb.sql(f"SELECT type, count(*) FROM '{out}' GROUP BY type").fetchall())
    assert counted == await store_counts(export_env["db"])
    assert sum(counted.values()) == EVENTS
    assert counted == dict(export_env["written"])


def test_parquet_columns_are_typed_and_old_versions_upcast(parquet_export):
    out = parquet_export
    schema = pq.read_schema(out)
    assert str(schema.field("occurred_at").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("schema_version").type) == "int32"
    assert set(schema.names) == set(EventEnvelope.model_fields)
    frame = pandas.read_parquet(out)
    assert str(frame["occurred_at"].dtype) == "datetime64[us, UTC]"
    created = duckdb.sql(f"""SELECT DISTINCT schema_version, json_type(data->'tags') FROM '{out}'
                             WHERE type = 'ProductCreated'""").fetchall()
    assert created == [(2, "ARRAY")]  # v1 history exported as v2, like the v2 events


async def test_since_until_select_a_window_of_commits(export_env, tmp_path):
    out = tmp_path / "window.jsonl"
    since, until = START + timedelta(milliseconds=200), START + timedelta(milliseconds=700)
    export(export_env["env"], out, "jsonl", "--since", since.isoformat(), "--until", until.isoformat())
    events = [EventEnvelope.from_json(line) for line in out.read_text().splitlines()]
    assert len(events) == 500
    assert all(since <= e.occurred_at < until for e in events)


def test_bad_options_are_refused_clearly(export_env, tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "merchant_cli.main",
            "events",
            "export",
            "--out",
            str(tmp_path / "x"),
            "--format",
            "csv",
        ],
        env=export_env["env"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "jsonl, parquet" in done.stderr
    assert not json.dumps(done.stderr).count("Traceback")
