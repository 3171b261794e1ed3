"""Schemathesis against the query API process's /openapi.json: no 5xx, no response that
breaks the schema, no undocumented status. Bounded for the suite (a bigger run is in
docs/benchmarks.md); ``positive_data_acceptance`` is left out because some valid-looking
inputs are rejected by rules a schema cannot state (a cursor's signature, min > max,
date ranges) — with a documented 400."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import http_service

pytestmark = pytest.mark.integration

EXAMPLES = os.environ.get("QUERY_FUZZ_EXAMPLES", "10")


@pytest.fixture(scope="module")
async def fuzz_key(mongo_db) -> str:
    from command_api.bootstrap import bootstrap

    return (await bootstrap(db=mongo_db).merchants.create("Fuzz Shop")).secret_key


def test_schemathesis_finds_no_server_error_or_schema_violation(server_env, fuzz_key, tmp_path):
    env = {**server_env, "QUERY_API_RATE_LIMIT_PER_SECOND": "100000", "QUERY_API_RATE_LIMIT_BURST": "100000"}
    service = http_service("query-api-fuzz", "query-api", env, tmp_path).start()
    try:
        service.wait_ready()
        schemathesis = Path(sys.executable).with_name("schemathesis")
        result = subprocess.run(
            [
                str(schemathesis),
                "run",
                f"{service.url}/openapi.json",
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
                "--phases",
                "fuzzing",
                "-n",
                EXAMPLES,
                "--seed",
                "5",
                "--no-shrink",
                "--request-timeout",
                "30",
                "-H",
                f"Authorization: Bearer {fuzz_key}",
            ],
            capture_output=True,
            text=True,
            timeout=280,
        )
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
        assert "passed" in result.stdout
    finally:
        service.stop()
