"""The test kit's server resolution order: env vars → Docker → local servers → fail in CI."""

from __future__ import annotations

import pytest

from merchant_testkit import servers

ENV = {
    "KAFKA_BOOTSTRAP_SERVERS": "k:1",
    "MONGODB_URL": "mongodb://m:2",
    "REDIS_URL": "redis://r:3/0",
    "SMTP_URL": "smtp://s:4",
}


@pytest.fixture
def no_env(monkeypatch):
    for name in (*ENV, "MERCHANT_TESTKIT_LOCAL_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(servers, "docker_engine_answers", lambda: False)
    return monkeypatch


def test_environment_variables_win(no_env):
    for name, value in ENV.items():
        no_env.setenv(name, value)
    no_env.setattr(servers, "docker_engine_answers", lambda: pytest.fail("Docker must not be asked"))
    found = servers.resolve()
    assert found.env("ns")["MONGODB_URL"] == "mongodb://m:2"
    assert found.env("ns")["KAFKA_TOPIC_PREFIX"] == "ns."


def test_local_servers_when_no_env_and_no_docker(no_env):
    local = servers.Servers("k", "m", "r", "s", "http://mail")
    no_env.setattr(servers, "from_local_servers", lambda: local)
    assert servers.resolve() is local


def test_nothing_available_fails_under_ci(no_env):
    no_env.setenv("MERCHANT_TESTKIT_LOCAL_SERVERS", "0")
    no_env.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="No servers"):
        servers.resolve()


def test_a_failed_local_start_is_reported(no_env):
    def broken():
        raise RuntimeError("java not found")

    no_env.setattr(servers, "from_local_servers", broken)
    no_env.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="java not found"):
        servers.resolve()
