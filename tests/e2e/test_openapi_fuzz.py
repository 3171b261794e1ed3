"""Schemathesis against the command API's own ``/openapi.json``, with a valid secret key:
no 5xx, no undocumented status, no response outside its schema, invalid input refused.

Bounded here (``FUZZ_EXAMPLES``, default 8 per operation, fuzzing and stateful phases
only); ``make fuzz`` runs every phase (coverage too) with 300. "Schema-valid request
rejected" is not checked: valid-looking commands are refused by the domain on purpose
(unknown ids → 404, a reused Idempotency-Key → 422, a stale If-Match → 412).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_schemathesis_finds_no_server_error_and_no_schema_violation(stack, merchant, tmp_path):
    examples = os.environ.get("FUZZ_EXAMPLES", "8")
    cli = Path(sys.executable).with_name("schemathesis")
    run = subprocess.run(
        [
            str(cli),
            "run",
            f"{stack.command_api.url}/openapi.json",
            "-H",
            f"Authorization: Bearer {merchant['secret_key']}",
            "--max-examples",
            examples,
            "--phases",
            os.environ.get("FUZZ_PHASES", "fuzzing,stateful"),
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--seed",
            os.environ.get("FUZZ_SEED", "20261129"),
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    summary = run.stdout[-6000:]
    assert run.returncode == 0, summary
    assert "Failures:" not in summary and " passed" in summary, summary
