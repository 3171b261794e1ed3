"""Settings, one class per process (pydantic-settings).

The server addresses follow the environment contract of INFRA.md and carry no prefix, so
the same variables serve every process, the local servers and docker-compose alike.
Everything else is prefixed per process (``COMMAND_API_PORT``, ``QUERY_API_PORT`` ...).
Defaults run locally with no configuration.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The kinds of cached reads, each with its TTL (QueryApiSettings.cache_ttl).
CacheKind = Literal["product", "list", "categories", "merchant", "stats", "analytics"]


class ServerSettings(BaseSettings):
    """Where the servers are: Kafka, MongoDB (or a wire-compatible server), Redis, SMTP."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    mongodb_url: str = Field("mongodb://127.0.0.1:27017", validation_alias="MONGODB_URL")
    mongodb_database: str = Field("merchant", validation_alias="MONGODB_DATABASE")
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    smtp_url: str = Field("smtp://127.0.0.1:1025", validation_alias="SMTP_URL")
    # Prepended to every topic name: lets several environments (or test runs) share a
    # cluster without seeing each other's events. Empty in production and development.
    kafka_topic_prefix: str = Field("", validation_alias="KAFKA_TOPIC_PREFIX")

    def topic(self, name: str) -> str:
        return f"{self.kafka_topic_prefix}{name}"


class CommandApiSettings(ServerSettings):
    model_config = SettingsConfigDict(env_prefix="COMMAND_API_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8001
    # Where clients read what they wrote; used for the Location header of 202 responses.
    query_api_url: str = Field("http://127.0.0.1:8002", validation_alias="QUERY_API_URL")
    max_body_bytes: int = 64 * 1024
    # The whole body must arrive within this long (408 body_timeout past it).
    body_timeout_seconds: float = 5.0
    # The relay publishes commits still unpublished after the grace. It passes at start,
    # then at most once per interval while commands arrive (none while idle).
    relay_interval_seconds: float = 1.0
    relay_grace_seconds: float = 2.0
    # Test-only switch: false leaves every commit to the relay (no publish right after the
    # append), so a test can kill the process while commits are unpublished.
    immediate_publish: bool = True
    # A command that runs longer is abandoned with a 503 (its request may be retried).
    command_timeout_seconds: float = 10.0
    # Any one MongoDB operation (server selection and connecting included) gives up after
    # this long: a stopped or hung store is a 503 store_unavailable, never a hung request.
    store_timeout_seconds: float = 5.0
    # Stock held by an order placement that was never decided goes back after this long
    # (must exceed command_timeout_seconds; the relay settles it).
    reservation_ttl_seconds: float = 60.0
    # An outbox entry whose commit is not stored this long after the entry was written is
    # an orphan (a crash between the two inserts) and the relay deletes it. It must outlast
    # any insert still in flight: far more than store_timeout_seconds plus the 5 s within
    # which a commit write is sent after its entry (command_api/adapters/outbox.py).
    outbox_orphan_grace_seconds: float = 60.0
    # A placed order not paid within this long expires and its stock goes back (0: never).
    order_expiry_seconds: float = 86_400.0
    # Aggregates whose last state this process keeps (``Repository``): a command on one
    # decides without reading it. Products are the hot ones (every checkout reserves
    # stock); an order is touched a few times in its first minutes. Measured on
    # 2026-12-06 (tests/unit/test_aggregate_cache_bounds.py): a product ~1.6 KB (+ ~110 B
    # per order it holds stock for), a placed order ~0.7 KB, so ~16 MB at the bound.
    aggregate_cache_size: int = 10_000
    # Load shedding: requests in flight beyond this get 503 overloaded at once (0: off).
    # Commands wait on the database, so a few dozen in flight already means seconds of queue.
    max_concurrent_requests: int = 64
    # Rate limits per process (docs/security.md): commands per secret key; orders per
    # publishable key (it is public: shipped in web pages); failed authentications per
    # client address (beyond them a guessed key is refused before it is looked up).
    rate_limit_per_second: float = 100.0
    rate_limit_burst: int = 200
    rate_limit_orders_per_second: float = 5.0
    rate_limit_orders_burst: int = 20
    rate_limit_auth_failures_per_second: float = 1.0
    rate_limit_auth_failures_burst: int = 20
    # Browser origins allowed to send commands (a storefront's checkout), comma-separated;
    # empty: no CORS. Credentials are never allowed.
    cors_allow_origins: str = ""


class QueryApiSettings(ServerSettings):
    model_config = SettingsConfigDict(env_prefix="QUERY_API_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8002
    # Signs pagination cursors (HMAC-SHA256). Set a secret of your own in production.
    cursor_secret: str = "dev-cursor-secret-change-me"
    # L1 (in-process) cache. Entries are dropped by invalidation messages, so they may live
    # long while messages flow; while the subscriber is disconnected (Redis down) they live
    # l1_ttl_unsubscribed_seconds, the staleness bound then.
    # Bounded by entries and by bytes (``l1.entry_bytes``: a product page ~1.5 KB, a 20-item
    # list page ~19 KB): 64 MB holds every product page and list page of a 2,500-product
    # catalogue (~23 MB) with room to spare, and keeps the process well under its 512 MB budget
    # however many distinct pages cursor walks reach (docs/benchmarks.md, "What grows").
    l1_max_entries: int = 20_000
    l1_max_bytes: int = 64 * 2**20
    l1_ttl_seconds: float = 300.0  # never longer than the L2 TTL of the same read
    l1_ttl_unsubscribed_seconds: float = 5.0
    # Stale-while-revalidate, public catalogue reads only: after a change, a reader gets the
    # previous answer at once (with Age and X-Cache: stale) while one reload runs, for at most
    # this long after it was last known current; past it the reader waits. 0: readers wait.
    max_stale_seconds: float = Field(2.0, ge=0.0, le=60.0)
    # TTLs per kind of read (``cache_ttl``): how long an entry lives in L2 (and at most in
    # L1). Entries are invalidated by generation long before, while invalidations flow; a
    # TTL is the staleness bound only when one is lost.
    l2_ttl_product_seconds: float = 300.0  # one product (storefront)
    l2_ttl_list_seconds: float = 300.0  # a catalogue list page
    l2_ttl_categories_seconds: float = 600.0  # categories and their counts
    l2_ttl_merchant_seconds: float = 60.0  # a merchant's own products and orders (dashboards)
    l2_ttl_stats_seconds: float = 120.0  # a merchant's daily stats
    l2_ttl_analytics_seconds: float = 300.0  # a merchant's analytics roll-up
    # Each entry's TTLs are scaled by a random factor in [1 - jitter, 1 + jitter], so the
    # entries loaded together (a warm-up, a burst after a deploy) do not expire together.
    cache_ttl_jitter: float = Field(0.1, ge=0.0, lt=1.0)
    l2_compress_min_bytes: int = 1024
    # How long L2 is skipped after a Redis error before it is tried again.
    l2_retry_after_seconds: float = 1.0
    default_page_size: int = 20
    # A request with a cursor (a client walking a list) loads this many pages in one query
    # and caches the ones after it (at most 1,000 items). 1 (off): a server that reads a page
    # through an index (MongoDB, our FerretDB on PostgreSQL) reads limit + 1 documents per
    # page; 5 suits one that scans for every query (FerretDB on SQLite).
    cursor_read_ahead_pages: int = 1
    # Any one MongoDB operation (server selection and connecting included) gives up after
    # this long: a read that needs a stopped or hung store is a 503 store_unavailable.
    store_timeout_seconds: float = 5.0
    # Read-your-writes: the longest a request waits for the projection to reach a version.
    min_version_wait_seconds: float = 2.0
    # Rate limits per process (docs/security.md): a token bucket per client address on the
    # catalogue, per secret key on the routes that need one; failed authentications per
    # client address (beyond them a guessed key is refused before it is looked up).
    rate_limit_per_second: float = 200.0
    rate_limit_burst: int = 400
    rate_limit_auth_failures_per_second: float = 1.0
    rate_limit_auth_failures_burst: int = 20
    # Load shedding: requests in flight beyond this get 503 overloaded at once (0: off).
    max_concurrent_requests: int = 256
    cors_allow_origins: str = "*"  # comma-separated; empty disables CORS
    max_request_bytes: int = 16 * 1024
    max_url_bytes: int = 8192
    warm_up_queries: int = 50
    # How often each process adds what it served to the hot-key record (shared.warmup).
    hot_keys_flush_seconds: float = 10.0

    def cache_ttl(self, kind: CacheKind) -> float:
        """The L2 TTL, in seconds, of a kind of read."""
        ttls: dict[CacheKind, float] = {
            "product": self.l2_ttl_product_seconds,
            "list": self.l2_ttl_list_seconds,
            "categories": self.l2_ttl_categories_seconds,
            "merchant": self.l2_ttl_merchant_seconds,
            "stats": self.l2_ttl_stats_seconds,
            "analytics": self.l2_ttl_analytics_seconds,
        }
        return ttls[kind]


class ProjectorSettings(ServerSettings):
    model_config = SettingsConfigDict(env_prefix="PROJECTOR_", extra="ignore", populate_by_name=True)

    group_id: str = "projectors"
    # A batch holds what arrived within the timeout, up to a limit that each stream's
    # subscriber retunes after every batch so that one takes about ``batch_seconds``
    # (projectors.application.batch_limit): larger batches catch a backlog up faster (a
    # product touched by several events of one batch is written once), but a batch must
    # end within Kafka's max.poll.interval.ms (5 min) or the member is dropped and the
    # batch comes again (docs/projections.md, "Catch-up"). 20 s: a catch-up's batches of
    # ~10,000 events read each derived key's counters once for many more events than at
    # 5 s (issue 15's full seed, 2026-12-06 23:22 UTC), and stay 15x within the poll
    # interval; live, a batch is whatever arrived, so freshness is unaffected.
    # 0: no retuning, every batch up to ``batch_size`` (as before; to compare fixed counts).
    batch_seconds: float = Field(20.0, ge=0, le=60)
    # The largest limit (from a floor of 100): it bounds a batch's memory.
    batch_size: int = Field(20_000, ge=1, le=100_000)
    batch_timeout_ms: int = 50
    # What one fetch may bring per partition (Kafka's default, 1 MiB, is ~1,000 events): a
    # poll returns at most what is prefetched, so this x the partitions read (6 per domain
    # topic) bounds a batch as well as the prefetched bytes held (docs/operations.md).
    fetch_partition_bytes: int = Field(4 * 1024 * 1024, ge=64 * 1024)
    # How soon a crashed projector's partitions go to the others (the broker's minimum
    # is 6 s by default); lower means faster failover, higher tolerates longer pauses.
    session_timeout_ms: int = 10_000
    # Writes of one read model in flight at once, each a bulk write of disjoint documents
    # on its own pooled connection (projectors.adapters.mongo_store): FerretDB runs a bulk's
    # statements one after another. 1: one bulk write per collection and step.
    write_concurrency: int = Field(4, ge=1, le=16)


class WorkerSettings(ServerSettings):
    model_config = SettingsConfigDict(env_prefix="WORKER_", extra="ignore", populate_by_name=True)

    group_prefix: str = "workers"
    # Operations HTTP endpoint of the worker process (queue health); port 0 turns it off.
    ops_host: str = "127.0.0.1"
    ops_port: int = 8003
    # Report links in emails point at the query API.
    query_api_url: str = Field("http://127.0.0.1:8002", validation_alias="QUERY_API_URL")
    mail_from: str = "shop@merchant.local"
    # Where SMS go: ``file:///path/sms.jsonl`` (development sink) or ``http(s)://...``.
    sms_sink: str = "file://./var/sms.jsonl"
    # Delivery policy knobs (docs/workers.md); the retry counts per kind are fixed policy.
    retry_base_delay_seconds: float = 1.0
    retry_max_delay_seconds: float = 60.0
    email_timeout_seconds: float = 30.0
    sms_timeout_seconds: float = 15.0
    report_timeout_seconds: float = 300.0
    # How long a claimed send stays claimed: longer than a send's time limit, so a send
    # whose attempt timed out can still hear a late answer (and nobody sends it again
    # meanwhile); a worker killed mid-send holds its job this long.
    claim_lease_seconds: float = 90.0
    analytics_rollup_interval_seconds: float = 5.0
    # Cache warm-up requests this many of the hottest paths after an invalidation.
    warmup_top_n: int = 20
    # ... and warms each path at most once per this many seconds (workers/application/warmup.py).
    warmup_min_interval_seconds: float = Field(5.0, ge=0.0)
    # Graceful shutdown: in-flight jobs get this long to finish, then are handed back.
    graceful_timeout_seconds: float = 15.0

    @model_validator(mode="after")
    def _claims_outlive_sends(self) -> WorkerSettings:
        longest = max(self.email_timeout_seconds, self.sms_timeout_seconds)
        if self.claim_lease_seconds <= longest:
            raise ValueError(
                f"WORKER_CLAIM_LEASE_SECONDS ({self.claim_lease_seconds:g}) must exceed the longest send time "
                f"limit ({longest:g} s): a send that timed out may still be answered while its claim holds"
            )
        return self
