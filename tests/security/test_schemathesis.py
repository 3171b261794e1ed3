"""schemathesis (pinned in pyproject) against each API's own ``/openapi.json``: every check
but ``positive_data_acceptance``, every phase (examples, coverage, fuzzing, stateful), a
fixed seed — 0 failures. ``schemathesis.toml`` beside this file counts 413 and 414 as
rejections of invalid data (they are: a body or URL too large).

``positive_data_acceptance`` is left out because the APIs refuse some schema-valid
requests on purpose, with a documented 4xx: unknown ids (404), a reused Idempotency-Key
(422), a stale If-Match (412), a cursor's signature, min > max.

CI runs ``SCHEMATHESIS_EXAMPLES`` (default 10) examples per operation; ``make fuzz`` runs
the full run (100 per operation; docs/security.md has the command and its last result).
The processes under test have their rate limits raised: one client sends every request,
and a 429 would end a case before the API's answer to it is checked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from merchant_testkit.stack import NO_RATE_LIMITS

pytestmark = pytest.mark.security

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "10")
SEED = os.environ.get("SCHEMATHESIS_SEED", "7")
NO_LIMITS = {**NO_RATE_LIMITS, "COMMAND_API_MAX_CONCURRENT_REQUESTS": "0", "QUERY_API_MAX_CONCURRENT_REQUESTS": "0"}


def schemathesis(url: str, key: str, report_dir: Path) -> subprocess.CompletedProcess:
    cli = Path(sys.executable).with_name("schemathesis")
    return subprocess.run(
        [
            str(cli),
            "--config-file",
            str(CONFIG),
            "run",
            f"{url}/openapi.json",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            EXAMPLES,
            "--seed",
            SEED,
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "-H",
            f"Authorization: Bearer {key}",
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
            str(report_dir),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )


@pytest.mark.timeout(3600)  # the full run (make fuzz) takes minutes per API
@pytest.mark.parametrize("component", ["command-api", "query-api"])
async def test_schemathesis_finds_no_failure(component, api_process, new_merchant, tmp_path):
    merchant = await new_merchant()
    service = api_process(component, **NO_LIMITS)
    run = schemathesis(service.url, merchant["secret_key"], tmp_path)
    summary = run.stdout[-8000:] + run.stderr[-2000:]
    print(f"\n{component}:\n{run.stdout[-700:]}")  # the counts, seen with -s
    assert run.returncode == 0, summary
    assert "Failures:" not in run.stdout and " passed" in run.stdout, summary
