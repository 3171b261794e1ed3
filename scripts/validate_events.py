#!/usr/bin/env python3
"""Check every event on Kafka topics against its published JSON Schema — from outside.

An independent consumer: ``kcat`` reads the topics (from the beginning to the end) and
``jsonschema`` validates each message against ``docs/events/<type>.v<schema_version>.json``.
Nothing of the project's own code is used, so a bug in its models cannot hide itself.
Also checked: the Kafka key is the ``aggregate_id`` and the headers repeat ``type`` and
``schema_version``.

    python scripts/validate_events.py --bootstrap 127.0.0.1:9092 \\
        --topic products.events --topic orders.events [--merchant M ...] [--expect-ids FILE]

``--merchant`` limits the check to those merchants' events (test suites also put
deliberately malformed messages on their topics); ``--expect-ids`` names event ids that
must all be found. Exit status 0 when every checked message is valid and all expected
ids were found.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jsonschema

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "events"


def read_topic(bootstrap: str, topic: str) -> list[dict]:
    """Every message of ``topic`` as kcat's JSON envelope (topic, partition, offset, key, payload, headers)."""
    done = subprocess.run(
        ["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-J", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kcat failed on {topic}: {done.stderr.strip()}")
    # One message per "\n"-terminated line. Not splitlines(): it also breaks on U+2028,
    # U+0085 and friends, which kcat leaves unescaped inside payload strings.
    return [json.loads(line) for line in done.stdout.split("\n") if line.strip()]


def headers_of(message: dict) -> dict[str, str]:
    raw = message.get("headers") or []  # kcat -J: [name, value, name, value, ...]
    return dict(zip(raw[::2], raw[1::2], strict=False))


def problems_with(message: dict, schemas_dir: Path, validators: dict) -> list[str]:
    where = f"{message['topic']}/{message['partition']}@{message['offset']}"
    try:
        event = json.loads(message["payload"])
        name = f"{event['type']}.v{event['schema_version']}.json"
    except (TypeError, ValueError, KeyError) as exc:
        return [f"{where}: not an event envelope ({exc})"]
    if name not in validators:
        path = schemas_dir / name
        if not path.exists():
            return [f"{where}: no published schema {name}"]
        schema = json.loads(path.read_text())
        validators[name] = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    found = [f"{where} ({name}): {e.json_path}: {e.message}" for e in validators[name].iter_errors(event)]
    headers = headers_of(message)
    if message.get("key") != event.get("aggregate_id"):
        found.append(f"{where}: key {message.get('key')!r} is not the aggregate_id")
    if headers.get("type") != event.get("type") or headers.get("schema_version") != str(event.get("schema_version")):
        found.append(f"{where}: headers {headers} disagree with the body")
    return found


def merchant_of(message: dict) -> str | None:
    try:
        return json.loads(message["payload"]).get("merchant_id")
    except (TypeError, ValueError, AttributeError):
        return None


def validate(
    bootstrap: str, topics: list[str], schemas_dir: Path = SCHEMAS, merchants: set[str] | None = None
) -> tuple[Counter, list[str], set[str]]:
    """(events per type.version, problems, event ids seen) over the checked messages."""
    counts, problems, validators, seen = Counter(), [], {}, set()
    for topic in topics:
        for message in read_topic(bootstrap, topic):
            if merchants is not None and merchant_of(message) not in merchants:
                continue
            problems.extend(problems_with(message, schemas_dir, validators))
            try:
                event = json.loads(message["payload"])
                counts[f"{event['type']}.v{event['schema_version']}"] += 1
                seen.add(event["event_id"])
            except (TypeError, ValueError, KeyError):
                counts["<unreadable>"] += 1
    return counts, problems, seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", action="append", required=True)
    parser.add_argument("--schemas", type=Path, default=SCHEMAS)
    parser.add_argument("--merchant", action="append", help="Only these merchants' events.")
    parser.add_argument("--expect-ids", type=Path, help="File of event ids (one a line) that must be found.")
    args = parser.parse_args()
    merchants = set(args.merchant) if args.merchant else None
    counts, problems, seen = validate(args.bootstrap, args.topic, args.schemas, merchants)
    for key, count in sorted(counts.items()):
        print(f"  {key:<32} {count:>8}")
    for problem in problems[:50]:
        print(f"INVALID {problem}")
    expected = set(args.expect_ids.read_text().split()) if args.expect_ids else set()
    missing = expected - seen
    print(
        f"{sum(counts.values())} events checked, {len(problems)} problems, "
        f"{len(expected) - len(missing)}/{len(expected)} expected ids found"
    )
    return 1 if problems or missing else 0


if __name__ == "__main__":
    sys.exit(main())
