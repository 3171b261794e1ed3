from __future__ import annotations

from shared.settings import CommandApiSettings, QueryApiSettings


def test_defaults_need_no_configuration(monkeypatch):
    for var in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL", "MONGODB_DATABASE", "REDIS_URL", "SMTP_URL"):
        monkeypatch.delenv(var, raising=False)
    s = CommandApiSettings()
    assert (s.kafka_bootstrap_servers, s.mongodb_url, s.port) == ("127.0.0.1:9092", "mongodb://127.0.0.1:27017", 8001)
    assert QueryApiSettings().port == 8002


def test_server_addresses_are_unprefixed_and_the_rest_prefixed(monkeypatch):
    monkeypatch.setenv("MONGODB_URL", "mongodb://db:1")
    monkeypatch.setenv("COMMAND_API_PORT", "9001")
    monkeypatch.setenv("QUERY_API_PORT", "9002")
    assert CommandApiSettings().mongodb_url == "mongodb://db:1"
    assert CommandApiSettings().port == 9001
    assert QueryApiSettings().port == 9002
