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


def test_each_kind_of_cached_read_has_its_own_ttl(monkeypatch):
    defaults = QueryApiSettings()
    kinds = ("product", "list", "categories", "merchant", "stats", "analytics")
    assert {k: defaults.cache_ttl(k) for k in kinds} == {
        "product": 300,
        "list": 300,
        "categories": 600,
        "merchant": 60,
        "stats": 120,
        "analytics": 300,
    }
    assert defaults.cache_ttl_jitter == 0.1
    monkeypatch.setenv("QUERY_API_L2_TTL_ANALYTICS_SECONDS", "30")
    monkeypatch.setenv("QUERY_API_L2_TTL_STATS_SECONDS", "45")
    assert (QueryApiSettings().cache_ttl("analytics"), QueryApiSettings().cache_ttl("stats")) == (30, 45)


def test_ttl_jitter_spreads_expiry_within_its_bounds():
    from query_api.adapters.cache.two_level import TwoLevelCache

    lowest = TwoLevelCache(None, None, None, None, ttl_jitter=0.1, rand=lambda: 0.0)  # type: ignore[arg-type]
    highest = TwoLevelCache(None, None, None, None, ttl_jitter=0.1, rand=lambda: 0.999999)  # type: ignore[arg-type]
    assert lowest.jittered(300) == 270
    assert 329.99 < highest.jittered(300) <= 330
